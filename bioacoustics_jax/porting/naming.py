"""Flax module paths -> torch state_dict keys, for models whose Flax names mirror torch's.

Our CNN modules are named after their torch counterparts with `.` written as `_` before an
index (torch `layer1.0.conv1` is Flax `layer1_0/conv1`, torch `features.3` is Flax
`features_3`), because Flax joins paths with `/` and indices must stay readable. Names that
have no direct torch twin (`downsample_conv` for `downsample.0`) go through an explicit table.
"""

from __future__ import annotations

from typing import Callable, Mapping

from bioacoustics_jax.porting import torch_to_flax

FlaxPath = torch_to_flax.FlaxPath


def torch_module_name(name: str) -> str:
  """`layer1_0` -> `layer1.0`; `features_1_0` -> `features.1.0`; `downsample_conv` unchanged."""
  tokens = name.split("_")
  out = tokens[0]
  for token in tokens[1:]:
    out += ("." if token.isdigit() else "_") + token
  return out


def dotted_rule(renames: Mapping[str, str] | None = None,
                module_key: Callable[[tuple[str, ...]], str] | None = None):
  """A `port_by_rules` rule: join the path's module names the torch way, then the leaf rule.

  Args:
    renames: exact Flax module name -> torch module name (applied per path element, before
      the index rewrite), e.g. {"downsample_conv": "downsample.0"}.
    module_key: optional override, Flax module names -> torch module key, for odd layouts.
  """
  renames = dict(renames or {})

  def default_key(modules: tuple[str, ...]) -> str:
    return ".".join(renames.get(m, torch_module_name(m)) for m in modules)

  key_fn = module_key or default_key

  def rule(path: FlaxPath):
    # path = (collection, *modules, leaf); "params" and "batch_stats" share torch module keys.
    return torch_to_flax.standard_leaf_rule(key_fn(tuple(path[1:-1])), path[-1])

  return rule
