"""PyTorch -> Flax: porters, safe checkpoint loading, parity helpers, ported-weight storage.

This room knows numpy, torch and its own rules only; which porter serves which model is the
zoo's presets table (bioacoustics_jax/zoo/).
- torch_to_flax: `port_by_rules` (rules keyed on the target Flax tree, strict) and transforms.
- naming: Flax module names <-> torch keys (`layer1_0` <-> `layer1.0`), `dotted_rule`.
- resnet, efficientnet, convnext, sequential_cnns, cnn14 (CNNs); swin, vit, hubert, ast
  (transformers): porters `port(state_dict, target) -> variables`.
- efficientnet_tf: TF-convention EfficientNet layouts (chirp's Perch exports, Keras) -> ours.
- savedmodel: a TF SavedModel folder's variables by name, read without loading its graph.
- load: `weights_dir()`, `load_state_dict(path)` (weights_only; a SavedModel folder too),
  `MissingWeightsError`.
- checkpoint: `save_variables` / `load_variables(dir)` / `load_metadata(dir)` / `cached_sha256`.
- parity: comparing a ported model with its torch reference (tests, benchmarks).
- references/: independent torch definitions where the source library is not a dependency.
"""
