"""transformers' `ConvNextForImageClassification` (BirdSet's checkpoint class) built from
models/convnext.py's hyper-parameter names, random init (no download)."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)


def transformers_convnext(dims=(128, 256, 512, 1024), depths=(3, 3, 27, 3), num_classes=9736,
                          in_channels=1, head_eps=1e-12, **unused):
  """`ConvNextForImageClassification(ConvNextConfig(...))`; drop path 0 (eval graph only)."""
  for key in ("dtype", "embedding", "stochastic_depth_prob", "layer_scale"):
    unused.pop(key, None)
  if unused:
    raise TypeError(f"transformers_convnext: unexpected {sorted(unused)}")
  from transformers import ConvNextConfig  # pylint: disable=g-import-not-at-top
  from transformers import ConvNextForImageClassification  # pylint: disable=g-import-not-at-top
  config = ConvNextConfig(num_channels=in_channels, num_stages=len(dims), hidden_sizes=list(dims),
                          depths=list(depths), num_labels=num_classes, layer_norm_eps=head_eps,
                          drop_path_rate=0.0, hidden_act="gelu")
  return ConvNextForImageClassification(config)
