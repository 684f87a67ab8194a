"""torchvision's VisionTransformer at random init, any size (vit_b_16 at the defaults)."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)


def torchvision_vit(image_size: int = 224, patch_size: int = 16, num_layers: int = 12,
                    num_heads: int = 12, hidden_dim: int = 768, mlp_dim: int = 3072,
                    num_classes: int = 1000, dropout: float = 0.0,
                    attention_dropout: float = 0.0):
  """`torchvision.models.VisionTransformer(...)`: the class `vit_b_16()` builds, same keys."""
  from torchvision.models import vision_transformer as tv  # pylint: disable=g-import-not-at-top
  return tv.VisionTransformer(image_size=image_size, patch_size=patch_size,
                              num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
                              mlp_dim=mlp_dim, num_classes=num_classes, dropout=dropout,
                              attention_dropout=attention_dropout)
