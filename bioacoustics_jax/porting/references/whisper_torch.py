"""transformers' `WhisperEncoder` built from models/whisper.py's hyper-parameter names."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)


def transformers_whisper_encoder(num_mel_bins=80, d_model=512, num_layers=6, num_heads=8,
                                 ff_dim=2048, max_source_positions=1500, dtype=None):
  """`WhisperEncoder(WhisperConfig(...))`, random init (its sinusoidal position table), eager
  attention so the numerics are plain matmuls."""
  del dtype
  from transformers import WhisperConfig  # pylint: disable=g-import-not-at-top
  from transformers.models.whisper.modeling_whisper import WhisperEncoder  # pylint: disable=g-import-not-at-top

  config = WhisperConfig(num_mel_bins=num_mel_bins, d_model=d_model, encoder_layers=num_layers,
                         encoder_attention_heads=num_heads, encoder_ffn_dim=ff_dim,
                         max_source_positions=max_source_positions, activation_function="gelu",
                         dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
  config._attn_implementation = "eager"  # pylint: disable=protected-access
  return WhisperEncoder(config)
