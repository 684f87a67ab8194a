"""transformers' `HubertModel` built from models/hubert.py's hyper-parameter names."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)


def transformers_hubert(conv_layers, extractor_mode="group_norm", conv_bias=False,
                        embed_dim=768, num_layers=12, num_heads=12, ff_dim=3072,
                        pos_conv_kernel=128, pos_conv_groups=16, layer_norm_first=False,
                        layer_norm_eps=1e-5, dtype=None, mask_time_prob=0.05):
  """`HubertModel(HubertConfig(...))`, random init, eval-relevant settings mapped one to one.

  `mask_time_prob` keeps transformers' default (0.05), so the model carries the
  `masked_spec_embed` parameter that real transformers checkpoints have and our porter ignores.
  """
  del dtype
  from transformers import HubertConfig, HubertModel  # pylint: disable=g-import-not-at-top

  config = HubertConfig(
      conv_dim=[c for c, _, _ in conv_layers], conv_kernel=[k for _, k, _ in conv_layers],
      conv_stride=[s for _, _, s in conv_layers], conv_bias=conv_bias,
      feat_extract_norm={"group_norm": "group", "layer_norm": "layer"}[extractor_mode],
      hidden_size=embed_dim, num_hidden_layers=num_layers, num_attention_heads=num_heads,
      intermediate_size=ff_dim, num_conv_pos_embeddings=pos_conv_kernel,
      num_conv_pos_embedding_groups=pos_conv_groups, do_stable_layer_norm=layer_norm_first,
      layer_norm_eps=layer_norm_eps, hidden_act="gelu", feat_extract_activation="gelu",
      feat_proj_layer_norm=True, mask_time_prob=mask_time_prob)
  return HubertModel(config)
