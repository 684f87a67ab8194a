"""PyTorch baselines: the suite's runs done with the PyTorch reference models, for comparison.

  torch_recipes   the input recipes in torch (torch.stft / torch.fft, the jnp frontend's numpy
                  windows and filterbanks), `get_torch_recipe(name)(audio [B, T], rate)`
  torch_embed     `torch_embedding_set(spec_name, split, ...)`: the spec's torch reference on the
                  JAX path's batches -> EmbeddingSet; `build_backbone`, `FAMILIES`
  torch_finetune  `torch_finetune(spec_name, train, valid, train_config)`: the BEANS protocol
  runner          `torch_cell(config, workdir, data_root, dataset, "torch:<name>", regime)`

Importing this package does not import torch; its modules do.
"""
