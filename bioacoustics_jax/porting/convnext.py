"""torchvision ConvNeXt state_dict -> our Flax ConvNeXt (models/convnext.py)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax


def port_convnext(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params"} of a models.convnext.ConvNeXt) from torchvision keys.

  Flax names mirror torchvision's: `features.1.0.block.0.weight` (7x7 depthwise, [C, 1, 7, 7])
  -> params/features_1_0/block_0/kernel ([7, 7, 1, C]), `block.2` LayerNorm weight -> scale,
  `block.3`/`block.5` Linears transposed, `features.1.0.layer_scale` ([C, 1, 1]) as it is,
  `classifier.0` (LayerNorm2d) and `classifier.2` (Linear). Strict: any missing, left-over or
  mis-shaped tensor is a PortingError naming it.
  """
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule())
