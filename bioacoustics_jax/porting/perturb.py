"""Make a freshly initialised torch model a discriminating parity reference.

torchvision's Swin and transformers' models start every Linear bias at 0, every LayerNorm at
(1, 0) and AST's cls/distillation tokens and position table at 0. A porter that dropped a bias,
swapped a norm's weight and bias or mixed up the two tokens would still "match" such a model.
Adding seeded noise to every parameter makes each tensor distinct, so parity proves the mapping.
"""

from __future__ import annotations

from typing import Any


def perturb_parameters(model: Any, seed: int = 0, scale: float = 0.05) -> Any:
  """Adds N(0, scale^2) noise to every parameter of a torch module, in place; returns it.

  Normalisation weights get 1 + noise semantics automatically (they start at 1). Buffers
  (e.g. Swin's relative_position_index) are left alone: they are indices, not weights.
  """
  import torch  # pylint: disable=g-import-not-at-top

  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for param in model.parameters():
      param.add_(scale * torch.randn(param.shape, generator=gen, dtype=param.dtype))
  return model
