"""torchvision EfficientNet state_dict -> our Flax EfficientNet (models/efficientnet.py).

torchvision nests Conv2dNormActivation Sequentials: `features.2.0.block.1.0.weight` is stage 2,
block 0, depthwise conv; `...block.1.1.*` its BatchNorm. Our ConvBNAct names its children
`conv`/`bn` (readable in parameter trees), which the rule maps back to `0`/`1`. The
squeeze-excitation `fc1`/`fc2` 1x1 convs and `classifier.1` keep their torch names.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

_RENAMES = {"conv": "0", "bn": "1"}


def port_efficientnet(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """`features.1.0.block.0.0.weight` -> params/features_1_0/block_0/conv/kernel, etc."""
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule(_RENAMES))
