"""torchvision's SwinTransformer (v1) with any widths/depths, for parity tests and porting."""

from __future__ import annotations

from typing import Sequence

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)


def torchvision_swin(embed_dim: int = 96, depths: Sequence[int] = (2, 2, 18, 2),
                     num_heads: Sequence[int] = (3, 6, 12, 24),
                     window_size: Sequence[int] = (7, 7), patch_size: Sequence[int] = (4, 4),
                     mlp_ratio: float = 4.0, num_classes: int = 1000,
                     stochastic_depth_prob: float = 0.3, dtype=None):
  """`torchvision.models.swin_transformer.SwinTransformer(...)`, random init.

  With the defaults this is exactly `torchvision.models.swin_s()` (stochastic depth 0.3, which
  is the identity in eval mode). `dtype` is accepted (and ignored) so that Flax-side overrides
  can be passed through unchanged.
  """
  del dtype
  from torchvision.models import swin_transformer  # pylint: disable=g-import-not-at-top

  return swin_transformer.SwinTransformer(
      patch_size=list(patch_size), embed_dim=embed_dim, depths=list(depths),
      num_heads=list(num_heads), window_size=list(window_size), mlp_ratio=mlp_ratio,
      num_classes=num_classes, stochastic_depth_prob=stochastic_depth_prob)
