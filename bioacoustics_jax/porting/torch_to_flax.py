"""PyTorch state_dict -> Flax variables, by rules chosen by the target Flax tree.

We walk the *target* tree (from `jax.eval_shape(module.init, ...)`), ask a rule for the torch key
and transform of each leaf, and fill it. Every target leaf must be found, every source tensor must
be used (but for counters like `num_batches_tracked`), and every shape must match exactly;
otherwise `PortingError` names the offending keys. Nothing is ever guessed or silently dropped.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import flax
import numpy as np

FlaxPath = tuple[str, ...]  # e.g. ("params", "layer1_0", "conv1", "kernel")
# A rule maps a target leaf path to (torch key, transform), or to a tuple of those whose
# transformed tensors are concatenated on the last axis, or to None for "not from torch".
Transform = Callable[[np.ndarray], np.ndarray]
Rule = Callable[[FlaxPath], "tuple[str, Transform] | None"]

IGNORED_SOURCE_SUFFIXES = ("num_batches_tracked",)


class PortingError(ValueError):
  """A state_dict does not fit the target model; the message names every offending key."""


# ---- transforms -------------------------------------------------------------------------------

def identity(x: np.ndarray) -> np.ndarray:
  return x


def conv_kernel(x: np.ndarray) -> np.ndarray:
  """torch Conv{1,2,3}d weight [O, I, *spatial] -> Flax [*spatial, I, O]."""
  return np.transpose(x, tuple(range(2, x.ndim)) + (1, 0))


def dense_kernel(x: np.ndarray) -> np.ndarray:
  """torch Linear weight [out, in] -> Flax Dense kernel [in, out]."""
  return x.T


def standard_leaf_rule(module_key: str, leaf: str) -> tuple[str, Transform]:
  """The usual torch name and transform of a Flax leaf under torch module `module_key`.

  Conv/Dense `kernel` -> `weight` (transposed by rank), `bias` -> `bias`, BatchNorm/LayerNorm
  `scale` -> `weight`, BatchNorm `mean`/`var` -> `running_mean`/`running_var`.
  """
  prefix = f"{module_key}." if module_key else ""
  if leaf == "kernel":
    return prefix + "weight", _kernel_by_rank
  if leaf == "scale":
    return prefix + "weight", identity
  if leaf == "mean":
    return prefix + "running_mean", identity
  if leaf == "var":
    return prefix + "running_var", identity
  return prefix + leaf, identity


def _kernel_by_rank(x: np.ndarray) -> np.ndarray:
  return dense_kernel(x) if x.ndim == 2 else conv_kernel(x)


# ---- state dicts ------------------------------------------------------------------------------

def to_numpy_state_dict(source: Any) -> dict[str, np.ndarray]:
  """A torch module, a torch state_dict, or a mapping of arrays -> {key: float32 numpy}."""
  if hasattr(source, "state_dict") and callable(source.state_dict):
    source = source.state_dict()
  out = {}
  for key, value in source.items():
    if hasattr(value, "detach"):
      value = value.detach().cpu().numpy()
    out[key] = np.asarray(value)
  return out


# ---- the porter -------------------------------------------------------------------------------

def port_by_rules(state_dict: Mapping[str, np.ndarray], target: Any, rule: Rule,
                  ignore_source: Iterable[str] = ()) -> Any:
  """Fills every leaf of `target` (Flax variables or their ShapeDtypeStructs) from `state_dict`.

  Args:
    state_dict: torch key -> array.
    target: the Flax variables tree to fill (only shapes and dtypes are read).
    rule: leaf path -> (torch key, transform) | tuple of them (concatenated on the last axis).
    ignore_source: torch keys (exact, or prefixes ending in '.') that are knowingly unused.

  Returns:
    A tree like `target` holding numpy arrays of the target dtypes.
  """
  flat_target = flax.traverse_util.flatten_dict(flax.core.unfreeze(target))
  used: set[str] = set()
  missing, mismatched = [], []
  filled = {}
  for path, leaf in flat_target.items():
    spec = rule(path)
    if spec is None:
      missing.append(f"{'/'.join(path)} (no rule)")
      continue
    parts = spec if isinstance(spec[0], tuple) else (spec,)
    arrays = []
    for key, transform in parts:
      if key not in state_dict:
        missing.append(f"{'/'.join(path)} <- {key}")
        break
      used.add(key)
      arrays.append(transform(np.asarray(state_dict[key])))
    if len(arrays) != len(parts):
      continue
    value = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=-1)
    if tuple(value.shape) != tuple(leaf.shape):
      mismatched.append(
          f"{'/'.join(path)}: target {tuple(leaf.shape)} vs {[p[0] for p in parts]} "
          f"-> {tuple(value.shape)}")
      continue
    filled[path] = value.astype(leaf.dtype)

  ignore = tuple(ignore_source)
  unused = sorted(
      k for k in state_dict
      if k not in used and not k.endswith(IGNORED_SOURCE_SUFFIXES)
      and not any(k == i or (i.endswith(".") and k.startswith(i)) for i in ignore))
  problems = []
  if missing:
    problems.append("target leaves with no source tensor:\n  " + "\n  ".join(missing))
  if mismatched:
    problems.append("shape mismatches:\n  " + "\n  ".join(mismatched))
  if unused:
    problems.append("source tensors left unmapped:\n  " + "\n  ".join(unused))
  if problems:
    raise PortingError("Porting failed.\n" + "\n".join(problems))
  return flax.traverse_util.unflatten_dict(filled)
