"""PyTorch -> Flax: porters, safe checkpoint loading, parity helpers, ported-weight storage.

- torch_to_flax: `port_by_rules` (rules keyed on the target Flax tree, strict) and transforms.
- naming: Flax module names <-> torch keys (`layer1_0` <-> `layer1.0`), `dotted_rule`.
- resnet, efficientnet, sequential_cnns (CNNs); swin, hubert, ast (transformers): the
  families' porters (`ModelSpec.port`).
- load: `load_state_dict(path)`, `pretrained_variables(spec, weights_dir, sample)`,
  `init_variables(spec, sample, rng=..., weights_dir=None, num_classes=None)`.
- checkpoint: `save_variables` / `load_variables(dir)` / `load_metadata(dir)`.
- parity: comparing a ported model with its torch reference (tests, benchmarks).
- references/: independent torch definitions where the source library is not a dependency.
- `python -m bioacoustics_jax.porting --model=NAME --weights=PATH --out=DIR`.
"""
