"""torchvision Swin (v1) state_dict -> our Flax SwinTransformer (models/swin.py)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import flax
import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

_INDEX_SUFFIX = ".relative_position_index"


def port_swin(state_dict: Mapping[str, np.ndarray], target: Any, *,
              relative_position_index: Callable[[tuple[int, int]], np.ndarray]) -> Any:
  """Fills `target` ({"params"} of a models.swin.SwinTransformer) from torchvision keys.

  Flax names mirror torchvision's (`features.1.0.attn.qkv.weight` -> params/features_1_0/attn/
  qkv/kernel, transposed; the fused qkv stays fused, so no split is needed). The bias tables
  are parameters and port as they are; torch's `relative_position_index` buffers are derived
  from the window size, which the model recomputes, so they are ignored *after* checking they
  equal ours (a checkpoint built with a different index convention would otherwise port
  silently wrong). `relative_position_index(window)` is the Flax model's own construction,
  passed in by the zoo (porting/ does not import models/).
  """

  index_keys = [k for k in state_dict if k.endswith(_INDEX_SUFFIX)]
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(target))
  tables = {"/".join(p[1:-1]): leaf.shape for p, leaf in flat.items()
            if p[-1] == "relative_position_bias_table"}
  for key in index_keys:
    module = key[:-len(_INDEX_SUFFIX)]
    flax_module = _flax_module_path(module)
    if flax_module not in tables:
      continue  # reported below as an unmapped table / unknown module by port_by_rules
    window = _window_from_table(tables[flax_module][0], np.asarray(state_dict[key]).size)
    if window is None or not np.array_equal(np.asarray(state_dict[key]).reshape(-1),
                                            relative_position_index(window)):
      raise torch_to_flax.PortingError(
          f"{key}: torch's relative-position index does not match the one models/swin.py "
          "computes for this window; the checkpoint is not a torchvision Swin v1.")
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule(),
                                     ignore_source=index_keys)


def _flax_module_path(torch_module: str) -> str:
  # "features.1.0.attn" -> "features_1_0/attn": indices join their parent with "_".
  out: list[str] = []
  for part in torch_module.split("."):
    if part.isdigit() and out:
      out[-1] += "_" + part
    else:
      out.append(part)
  return "/".join(out)


def _window_from_table(table_rows: int, index_size: int) -> tuple[int, int] | None:
  # Square windows only (all torchvision Swins): rows = (2w-1)^2, index size = w^4.
  w = int(round(index_size ** 0.25))
  if w ** 4 != index_size or (2 * w - 1) ** 2 != table_rows:
    return None
  return (w, w)
