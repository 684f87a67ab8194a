"""torchvision VisionTransformer state_dict -> our Flax ViT (models/vit.py).

torchvision keeps each block's attention as an nn.MultiheadAttention: one fused
`in_proj_weight` [3D, D] / `in_proj_bias` [3D] (q, k, v as consecutive thirds) and `out_proj`.
Our SelfAttention has separate q/k/v Linears, so each takes its third (transposed). Every other
name mirrors torchvision's: `encoder.layers.encoder_layer_3.mlp.0` is
params/encoder/encoder_layer_3/mlp_0, `heads.head` is params/heads_head.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import torch_to_flax

_THIRDS = {"q_proj": 0, "k_proj": 1, "v_proj": 2}


def _third(key: str, index: int, transpose: bool):
  def take(x: np.ndarray) -> np.ndarray:
    if x.shape[0] % 3:
      raise torch_to_flax.PortingError(
          f"{key}: first axis {x.shape[0]} is not 3 x the width (fused q, k, v expected)")
    part = np.split(x, 3, axis=0)[index]
    return part.T if transpose else part
  return take


def _module_key(modules: tuple[str, ...]) -> str:
  out = []
  for m in modules:
    if m.startswith("encoder_layer_"):
      out += ["layers", m]  # torch: encoder.layers (a Sequential of named blocks).encoder_layer_i
    elif m in ("mlp_0", "mlp_3", "heads_head"):
      out.append(m.replace("_", ".", 1))
    else:
      out.append(m)
  return ".".join(out)


def _rule(path: torch_to_flax.FlaxPath):
  modules, leaf = tuple(path[1:-1]), path[-1]
  if modules and modules[-1] in _THIRDS:
    base = _module_key(modules[:-1])
    key = f"{base}.in_proj_weight" if leaf == "kernel" else f"{base}.in_proj_bias"
    return key, _third(key, _THIRDS[modules[-1]], transpose=leaf == "kernel")
  return torch_to_flax.standard_leaf_rule(_module_key(modules), leaf)


def port_vit(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params"} of a models.vit.VisionTransformer) from torchvision keys.

  Strict: a missing, left-over or mis-shaped tensor (a checkpoint for another image size has a
  different `encoder.pos_embedding`) is a PortingError naming it.
  """
  return torch_to_flax.port_by_rules(state_dict, target, _rule)
