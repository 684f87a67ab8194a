"""transformers CLAP state_dicts (ClapModel or ClapAudioModelWithProjection) -> models/clap.py.

The hub's laion/clap-htsat-unfused model.safetensors is a whole ClapModel: the audio tower under
`audio_model.audio_encoder.*`, `audio_projection.linear{1,2}.*`, and the text side
(`text_model.*`, `text_projection.*`, `logit_scale_a`, `logit_scale_t`), which is knowingly
left out (we embed audio only). ClapAudioModelWithProjection's state_dict is the audio half.
Anything else is an error that names the tensor; so is a fused checkpoint's feature-fusion
block (`patch_embed.fusion_model.*`, `patch_embed.mel_conv2d.*`), which models/clap.py does not
implement.

Renames: `layernorm_before/after` -> norm1/norm2, `attention.self.query/key/value` ->
the fused `attn/qkv` (concatenated in q, k, v order, as models/swin.py splits it),
`attention.output.dense` -> attn/proj, `intermediate.dense` / `output.dense` -> mlp_0 / mlp_3,
`patch_embed.proj/norm` -> patch_embed_proj/norm, the BatchNorm's running stats ->
batch_stats. Each block's `relative_position_index` buffer is checked against the Flax model's
own construction (passed in by the zoo: porting/ does not import models/) and then ignored.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import numpy as np

from bioacoustics_jax.porting import torch_to_flax

ENCODER = "audio_model.audio_encoder."
TEXT_SIDE = ("text_model.", "text_projection.", "logit_scale_a", "logit_scale_t")
_FUSION = (".patch_embed.fusion_model.", ".patch_embed.mel_conv2d.")
_INDEX_SUFFIX = ".attention.self.relative_position_index"
_BLOCK_RENAMES = {"norm1": "layernorm_before", "norm2": "layernorm_after",
                  "mlp_0": "intermediate.dense", "mlp_3": "output.dense"}


def _module_key(modules: tuple[str, ...]) -> str | None:
  first, rest = modules[0], modules[1:]
  if first.startswith("audio_projection_"):
    return "audio_projection." + first[len("audio_projection_"):]
  block = re.fullmatch(r"layers_(\d+)_blocks_(\d+)", first)
  if block:
    key = f"layers.{block[1]}.blocks.{block[2]}"
    if rest == ("attn",):
      return key + ".attention.self"
    if rest == ("attn", "proj"):
      return key + ".attention.output.dense"
    if len(rest) == 1 and rest[0] in _BLOCK_RENAMES:
      return f"{key}.{_BLOCK_RENAMES[rest[0]]}"
    return None
  down = re.fullmatch(r"layers_(\d+)_downsample", first)
  if down and len(rest) == 1:
    return f"layers.{down[1]}.downsample.{rest[0]}"
  if first.startswith("patch_embed_") and not rest:
    return "patch_embed." + first[len("patch_embed_"):]
  if first in ("batch_norm", "norm") and not rest:
    return first
  return None


def _qkv_rule(path: tuple[str, ...]):
  """attn/qkv/{kernel,bias} <- concat(attention.self.query/key/value) on the output axis."""
  block = ENCODER + _module_key((path[1], "attn")) + "."
  transform = torch_to_flax.dense_kernel if path[-1] == "kernel" else torch_to_flax.identity
  leaf = "weight" if path[-1] == "kernel" else "bias"
  return tuple((f"{block}{name}.{leaf}", transform) for name in ("query", "key", "value"))


def rule(path: tuple[str, ...]):
  """port_by_rules rule for models.clap.HTSAT's variables."""
  if len(path) == 5 and path[2:4] == ("attn", "qkv") and re.fullmatch(
      r"layers_\d+_blocks_\d+", path[1]):
    return _qkv_rule(path)
  modules, leaf = tuple(path[1:-1]), path[-1]
  key = _module_key(modules)
  if key is None:
    return None
  if not key.startswith("audio_projection."):
    key = ENCODER + key
  if leaf == "relative_position_bias_table":
    return key + "." + leaf, torch_to_flax.identity
  return torch_to_flax.standard_leaf_rule(key, leaf)


def port_clap(state_dict: Mapping[str, np.ndarray], target: Any, *,
              relative_position_index: Callable[[tuple[int, int]], np.ndarray]) -> Any:
  """Fills `target` ({"params", "batch_stats"} of a models.clap.HTSAT) from a CLAP state_dict.

  Args:
    state_dict: a ClapModel or ClapAudioModelWithProjection state_dict (numpy).
    target: the Flax variables tree to fill.
    relative_position_index: models/swin.py's index for a (window, window) window.
  """
  if not any(k.startswith(ENCODER) for k in state_dict):
    raise torch_to_flax.PortingError(
        f"Not a CLAP state_dict: no '{ENCODER}*' keys (a ClapModel or "
        f"ClapAudioModelWithProjection checkpoint); got e.g. {list(state_dict)[:5]}")
  fused = sorted(k for k in state_dict if any(f in k for f in _FUSION))
  if fused:
    raise torch_to_flax.PortingError(
        f"{fused[0]} (and {len(fused) - 1} more fusion tensors): a fused CLAP checkpoint "
        "(enable_fusion=True, e.g. laion/clap-htsat-fused); only the unfused HTS-AT "
        "(laion/clap-htsat-unfused layout) is implemented.")
  index_keys = [k for k in state_dict if k.endswith(_INDEX_SUFFIX)]
  for key in index_keys:
    index = np.asarray(state_dict[key]).reshape(-1)
    window = int(round(index.size ** 0.25))
    if window ** 4 != index.size or not np.array_equal(
        index, relative_position_index((window, window))):
      raise torch_to_flax.PortingError(
          f"{key}: the relative-position index differs from the one models/swin.py computes "
          "for this window; the checkpoint is not transformers' CLAP/Swin layout.")
  return torch_to_flax.port_by_rules(state_dict, target, rule,
                                     ignore_source=tuple(index_keys) + TEXT_SIDE)
