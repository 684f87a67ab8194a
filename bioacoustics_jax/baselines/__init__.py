"""PyTorch baselines: the suite's runs done with the PyTorch reference models, for comparison.

  torch_recipes   the input recipes in torch (torch.stft / torch.fft, the jnp frontend's numpy
                  windows and filterbanks), `get_torch_recipe(name)(audio [B, T], rate)`
  torch_embed     `build_backbone(model)` (a zoo.Backbone's torch reference, random init or its
                  weight file), `torch_embedding_set(backbone, split, ...)` on the JAX path's
                  batches -> EmbeddingSet; `FAMILIES`
  torch_finetune  `torch_finetune(model, train, valid, train_config)`: the BEANS protocol
  runner          `torch_embeddings(cell, config)` for "torch:<name>" cells, `check_model`
  shared_init     `torch_init_variables(backbone, seed=...)`: the torch reference's random init
                  ported into Flax, so "rn18" and "torch:rn18" start as the same network

Importing this package does not import torch; its modules do.
"""
