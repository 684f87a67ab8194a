"""transformers' `ASTModel` built from models/ast.py's hyper-parameter names."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)


def transformers_ast(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072,
                     patch_size=16, frequency_stride=10, time_stride=10, max_length=1024,
                     num_mel_bins=128, layer_norm_eps=1e-12, dtype=None):
  """`ASTModel(ASTConfig(...))`, random init (eager attention, so numerics are plain matmuls)."""
  del dtype
  from transformers import ASTConfig, ASTModel  # pylint: disable=g-import-not-at-top

  config = ASTConfig(
      hidden_size=hidden_size, num_hidden_layers=num_layers, num_attention_heads=num_heads,
      intermediate_size=intermediate_size, patch_size=patch_size,
      frequency_stride=frequency_stride, time_stride=time_stride, max_length=max_length,
      num_mel_bins=num_mel_bins, layer_norm_eps=layer_norm_eps, hidden_act="gelu",
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  config._attn_implementation = "eager"  # pylint: disable=protected-access
  return ASTModel(config)
