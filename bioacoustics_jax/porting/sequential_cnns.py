"""Porter for CNNs built from indexed nn.Sequential stacks: AlexNet, VGG, VGGish.

Their torch keys are `<stack>.<index>.<weight|bias>` (torchvision `features.3.weight`,
`classifier.6.bias`; torchvggish `embeddings.4.weight`) and our Flax modules are named
`<stack>_<index>`, so the generic dotted rule maps every leaf; Linear layers after a flatten
need no permutation because the Flax models flatten in the same order as their torch twins.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax


def port_sequential(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """`features.3.weight` -> params/features_3/kernel (OIHW -> HWIO or Linear .T), etc."""
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule())
