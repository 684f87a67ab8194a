"""torchvision ResNet state_dict -> our Flax ResNet (models/resnet.py)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

# torchvision keeps the projection shortcut as an nn.Sequential(conv, bn).
_RENAMES = {"downsample_conv": "downsample.0", "downsample_bn": "downsample.1"}


def port_resnet(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params", "batch_stats"} of a models.resnet.ResNet) from torchvision keys.

  `conv1.weight` -> params/conv1/kernel (OIHW -> HWIO), `bn1.running_var` ->
  batch_stats/bn1/var, `layer2.0.downsample.1.weight` -> params/layer2_0/downsample_bn/scale,
  `fc.weight` -> params/fc/kernel (transposed). Any key left over or missing is an error.
  """
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule(_RENAMES))
