"""transformers' wav2vec 2.0-family models (HuBERT, wav2vec 2.0, WavLM, data2vec-audio) built
from models/hubert.py's hyper-parameter names, random init."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)

# family -> (config class, model class) in transformers.
_CLASSES = {
    "hubert": ("HubertConfig", "HubertModel"),
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "wavlm": ("WavLMConfig", "WavLMModel"),
    "data2vec_audio": ("Data2VecAudioConfig", "Data2VecAudioModel"),
}


def transformers_model(family, conv_layers, extractor_mode="group_norm", conv_bias=False,
                       embed_dim=768, num_layers=12, num_heads=12, ff_dim=3072,
                       pos_conv_kernel=128, pos_conv_groups=16, layer_norm_first=False,
                       layer_norm_eps=1e-5, pos_conv_layers=0, num_buckets=0,
                       max_distance=800, dtype=None, mask_time_prob=0.05):
  """`<Family>Model(<Family>Config(...))`, random init, eval-relevant settings mapped one to one.

  `mask_time_prob` keeps transformers' default (0.05), so the model carries the
  `masked_spec_embed` parameter that real transformers checkpoints have and our porter ignores.
  Eager attention, so the numerics are plain matmuls.
  """
  del dtype
  import transformers  # pylint: disable=g-import-not-at-top

  config_name, model_name = _CLASSES[family]
  kwargs = dict(
      conv_dim=[c for c, _, _ in conv_layers], conv_kernel=[k for _, k, _ in conv_layers],
      conv_stride=[s for _, _, s in conv_layers], conv_bias=conv_bias,
      feat_extract_norm={"group_norm": "group", "layer_norm": "layer"}[extractor_mode],
      hidden_size=embed_dim, num_hidden_layers=num_layers, num_attention_heads=num_heads,
      intermediate_size=ff_dim, num_conv_pos_embedding_groups=pos_conv_groups,
      do_stable_layer_norm=layer_norm_first, layer_norm_eps=layer_norm_eps, hidden_act="gelu",
      feat_extract_activation="gelu", feat_proj_layer_norm=True, mask_time_prob=mask_time_prob)
  if family == "data2vec_audio":
    # data2vec-audio: always LayerNorm'd convs and post-LN layers; `num_conv_pos_embeddings`
    # counts its positional conv layers, `conv_pos_kernel_size` is their kernel.
    if extractor_mode != "layer_norm" or layer_norm_first or not pos_conv_layers:
      raise ValueError("data2vec-audio has layer_norm convs, post-LN layers and a positional "
                       "conv stack (pos_conv_layers > 0)")
    kwargs.update(num_conv_pos_embeddings=pos_conv_layers, conv_pos_kernel_size=pos_conv_kernel)
  else:
    if pos_conv_layers:
      raise ValueError(f"{family} has one positional conv (pos_conv_layers=0)")
    kwargs.update(num_conv_pos_embeddings=pos_conv_kernel)
  if family == "wavlm":
    if not num_buckets:
      raise ValueError("WavLM needs num_buckets > 0 (its relative position bias)")
    kwargs.update(num_buckets=num_buckets, max_bucket_distance=max_distance)
  elif num_buckets:
    raise ValueError(f"{family} has no relative position bias (num_buckets=0)")
  config = getattr(transformers, config_name)(**kwargs)
  config._attn_implementation = "eager"  # pylint: disable=protected-access
  return getattr(transformers, model_name)(config)


def transformers_hubert(conv_layers, **kwargs):
  """`HubertModel(HubertConfig(...))` (see `transformers_model`)."""
  return transformers_model("hubert", conv_layers, **kwargs)
