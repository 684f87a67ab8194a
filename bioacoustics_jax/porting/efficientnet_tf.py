"""TF-convention EfficientNet variables -> our TFEfficientNet (models/efficientnet.py).

Two layouts of the same network, mapped by rules keyed on our tree (features_0 stem,
features_<stage>_<j>/block_<k>/{conv,bn,fc1,fc2}, features_8 head; a block with expansion has
block_0 expand, block_1 depthwise, block_2 squeeze-excitation, block_3 project, one without
starts at the depthwise conv):
- chirp's Flax EfficientNet, as a Perch SavedModel names its variables (porting/savedmodel.py):
  `<collection>/<prefix>/Stem_0/{Conv_0,BatchNorm_0}`, `MBConv_<n>/{ExpandConv,ExpandBatchNorm,
  DepthwiseConv,DepthwiseBatchNorm,SqueezeAndExcitation_0/{Reduce,Expand},ProjectConv,
  ProjectBatchNorm}` with n counting blocks over all stages, `Head_0/{Conv_0,BatchNorm_0}`; the
  squeeze-excitation is Dense ([C, S] -> our 1x1 conv [1, 1, C, S]); everything else is already
  Flax's layout. `<prefix>` is wherever the backbone sits in the exported model
  (`embedding_model/backbone` in Perch 2.0's reference code, `encoder` in chirp's TaxonomyModel):
  it is found as the one path in front of `Stem_0`; variables outside it (the classifier heads)
  are not part of the embedding model and are left out, every variable inside must be used.
- Keras applications (`v.path` of `keras.applications.EfficientNetB*` weights): `stem_conv`,
  `stem_bn`, `block<stage><letter>_{expand_conv,expand_bn,dwconv,bn,se_reduce,se_expand,
  project_conv,project_bn}`, `top_conv`, `top_bn`; BN gamma/beta/moving_mean/moving_variance;
  depthwise kernels (Keras 3 `dwconv/kernel`) [k, k, C, 1] -> Flax [k, k, 1, C]. Keras's input
  Rescaling/Normalization layers are not part of our network (`KERAS_INPUT_LAYERS` names them;
  the parity test checks they are the identity up to the 1/255 scaling it undoes).
"""

from __future__ import annotations

from typing import Any, Mapping

import flax
import numpy as np

from bioacoustics_jax.porting import torch_to_flax

KERAS_INPUT_LAYERS = ("normalization/mean", "normalization/variance", "normalization/count")
_ROLES = ("expand", "depthwise", "se", "project")
_CHIRP = {"expand": ("ExpandConv", "ExpandBatchNorm"),
          "depthwise": ("DepthwiseConv", "DepthwiseBatchNorm"),
          "project": ("ProjectConv", "ProjectBatchNorm")}
_KERAS = {"expand": ("expand_conv", "expand_bn"), "depthwise": ("dwconv", "bn"),
          "project": ("project_conv", "project_bn")}
_KERAS_LEAF = {"scale": "gamma", "bias": "beta", "mean": "moving_mean",
               "var": "moving_variance"}


def _blocks(target: Any) -> dict[str, tuple[int, int, bool]]:
  """Our block names -> (stage, index, has expansion), in network order."""
  names = {path[1] for path in flax.traverse_util.flatten_dict(flax.core.unfreeze(target))}
  blocks = {}
  for name in names:
    parts = name.split("_")
    if len(parts) == 3:
      blocks[name] = (int(parts[1]), int(parts[2]))
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(target))
  expanded = {path[1] for path in flat if path[1] in blocks and path[2] == "block_3"}
  order = sorted(blocks, key=blocks.get)
  return {name: (*blocks[name], name in expanded) for name in order}


def _role(block: str, has_expansion: bool) -> str:
  return _ROLES[int(block.split("_")[1]) + (0 if has_expansion else 1)]


def _rule(target: Any, name_of) -> torch_to_flax.Rule:
  """A port_by_rules rule; `name_of(path, where, role, index)` gives the source key."""
  blocks = _blocks(target)
  head = f"features_{max(s for s, _, _ in blocks.values()) + 1}"
  numbers = {name: n for n, name in enumerate(blocks)}

  def rule(path):
    module = path[1]
    if module == "features_0":
      return name_of(path, "stem", None, None)
    if module == head:
      return name_of(path, "head", None, None)
    if module not in blocks:
      return None
    stage, j, expanded = blocks[module]
    return name_of(path, "block", _role(path[2], expanded), (numbers[module], stage, j))

  return rule


def port_chirp(variables: Mapping[str, np.ndarray], target: Any) -> Any:
  """chirp EfficientNet variables ({"params/<prefix>/Stem_0/Conv_0/kernel": ...}, as
  porting/savedmodel.py reads a Perch SavedModel) -> our TFEfficientNet tree (strict)."""
  found = set()
  for name in variables:
    parts = name.split("/")
    if "Stem_0" in parts:
      found.add("/".join(parts[1:parts.index("Stem_0")]))
  if len(found) != 1:
    raise torch_to_flax.PortingError(
        f"Expected one EfficientNet backbone (a 'Stem_0' module) among the variables, found "
        f"{len(found)} at {sorted(found)}; is this a chirp EfficientNet export?")
  prefix = found.pop()
  at = (prefix + "/") if prefix else ""

  def name_of(path, where, role, number):
    collection, leaf = path[0], path[-1]
    if where in ("stem", "head"):
      layer = "Conv_0" if path[2] == "conv" else "BatchNorm_0"
      module = f"{'Stem_0' if where == 'stem' else 'Head_0'}/{layer}"
      return f"{collection}/{at}{module}/{leaf}", torch_to_flax.identity
    block = f"MBConv_{number[0]}"
    if role == "se":
      dense = "Reduce" if path[3] == "fc1" else "Expand"
      key = f"{collection}/{at}{block}/SqueezeAndExcitation_0/{dense}/{leaf}"
      return key, (lambda x: x.reshape((1, 1) + x.shape)) if leaf == "kernel" else \
          torch_to_flax.identity
    layer = _CHIRP[role][0 if path[3] == "conv" else 1]
    return f"{collection}/{at}{block}/{layer}/{leaf}", torch_to_flax.identity

  outside = [k for k in variables if not k.split("/", 1)[-1].startswith(at)] if at else []
  return torch_to_flax.port_by_rules(variables, target, _rule(target, name_of),
                                     ignore_source=outside)


def _depthwise(x: np.ndarray) -> np.ndarray:
  return np.transpose(x, (0, 1, 3, 2))


def port_keras(weights: Mapping[str, np.ndarray], target: Any) -> Any:
  """Keras EfficientNet weights ({v.path: array}) -> our TFEfficientNet tree (strict)."""

  def name_of(path, where, role, number):
    leaf, layer = path[-1], path[2] if where != "block" else path[3]
    if where == "block":
      _, stage, j = number
      prefix = f"block{stage}{chr(97 + j)}_"
      if role == "se":
        module = prefix + ("se_reduce" if layer == "fc1" else "se_expand")
      else:
        module = prefix + _KERAS[role][0 if layer == "conv" else 1]
    else:
      module = ("stem" if where == "stem" else "top") + ("_conv" if layer == "conv" else "_bn")
    if leaf == "kernel":
      if role == "depthwise":
        return f"{module}/kernel", _depthwise
      return f"{module}/kernel", torch_to_flax.identity
    if layer in ("fc1", "fc2"):
      return f"{module}/{leaf}", torch_to_flax.identity
    return f"{module}/{_KERAS_LEAF[leaf]}", torch_to_flax.identity

  return torch_to_flax.port_by_rules(weights, target, _rule(target, name_of),
                                     ignore_source=KERAS_INPUT_LAYERS)
