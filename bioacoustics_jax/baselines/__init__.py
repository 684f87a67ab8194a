"""PyTorch baselines: the suite's runs done with the PyTorch reference models, for comparison.

  torch_recipes   the input recipes in torch (torch.stft / torch.fft, the jnp frontend's numpy
                  windows and filterbanks), `get_torch_recipe(name)(audio [B, T], rate)`
  torch_embed     `build_backbone(model)` (a zoo.Backbone's torch reference, random init or its
                  weight file), `torch_embedding_set(backbone, split, ...)` on the JAX path's
                  batches -> EmbeddingSet; `FAMILIES`
  torch_finetune  `torch_finetune(model, train, valid, train_config)`: the BEANS protocol

The "torch:<name>" cells that run them, and the shared random init of "rn18" beside
"torch:rn18", live in cells/ (torch_cell.py, torch_finetuned.py, shared_init.py).

Importing this package does not import torch; its modules do.
"""
