"""ConvNeXt state_dicts (torchvision, or transformers' ConvNext as BirdSet ships it) -> our Flax
ConvNeXt (models/convnext.py).

transformers' ConvNextForImageClassification holds the same tensors as torchvision's ConvNeXt
under other names; `transformers_to_torchvision` renames them (a pure mapping, each key once)
and gives the layer scales torchvision's [C, 1, 1] shape, then the torchvision porter runs:
  convnext.embeddings.patch_embeddings / .layernorm  -> features.0.0 / features.0.1
  convnext.encoder.stages.{s}.layers.{j}.dwconv / layernorm / pwconv1 / pwconv2
                                                     -> features.{2s+1}.{j}.block.0 / 2 / 3 / 5
  convnext.encoder.stages.{s}.layers.{j}.layer_scale_parameter [C] -> ....layer_scale [C, 1, 1]
  convnext.encoder.stages.{s}.downsampling_layer.{0,1} (s >= 1)     -> features.{2s}.{0,1}
  convnext.layernorm / classifier                    -> classifier.0 / classifier.2
A bare ConvNextModel (no `convnext.` prefix, no classifier) is refused by name: our module
always carries the classifier.
"""

from __future__ import annotations

import re
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


_STAGE = re.compile(r"convnext\.encoder\.stages\.(\d+)\.(layers\.(\d+)|downsampling_layer)\.(.+)")
_FIXED = {"convnext.embeddings.patch_embeddings.": "features.0.0.",
          "convnext.embeddings.layernorm.": "features.0.1.",
          "convnext.layernorm.": "classifier.0.", "classifier.": "classifier.2."}
_BLOCK = {"dwconv": "block.0", "layernorm": "block.2", "pwconv1": "block.3",
          "pwconv2": "block.5"}


def _torchvision_key(key: str) -> str:
  for old, new in _FIXED.items():
    if key.startswith(old):
      return new + key[len(old):]
  match = _STAGE.fullmatch(key)
  if match is None:
    raise torch_to_flax.PortingError(
        f"{key!r} is not a key of transformers' ConvNextForImageClassification (expected "
        "'convnext.embeddings.*', 'convnext.encoder.stages.*', 'convnext.layernorm.*' or "
        "'classifier.*'); a bare ConvNextModel has no classifier: save the "
        "ConvNextForImageClassification checkpoint (BirdSet's model.safetensors).")
  stage, _, layer, rest = match.groups()
  stage = int(stage)
  if layer is None:  # downsampling_layer.0 (LayerNorm) / .1 (conv) before stage s >= 1
    return f"features.{2 * stage}.{rest}"
  if rest == "layer_scale_parameter":
    return f"features.{2 * stage + 1}.{layer}.layer_scale"
  module, _, param = rest.partition(".")
  if module not in _BLOCK:
    raise torch_to_flax.PortingError(f"{key!r}: unknown ConvNeXt layer part {module!r}")
  return f"features.{2 * stage + 1}.{layer}.{_BLOCK[module]}.{param}"


def transformers_to_torchvision(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """transformers ConvNext keys -> torchvision keys (layer scales reshaped to [C, 1, 1])."""
  out = {}
  for key, value in state_dict.items():
    new = _torchvision_key(key)
    if new in out:
      raise torch_to_flax.PortingError(f"{key!r} and another key both map to {new!r}")
    value = np.asarray(value)
    out[new] = value.reshape(-1, 1, 1) if new.endswith("layer_scale") else value
  return out


def port_transformers_convnext(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` from transformers' ConvNextForImageClassification keys (strict)."""
  return port_convnext(transformers_to_torchvision(state_dict), target)
