"""A sweep's trials: the config module's `sweep(add[, arg])` expanded, resolved and validated.

A config module opts in with big_vision-style sweeps as data:

  def sweep(add, arg=None):            # `arg` is the --config=PATH:arg string (or None)
    for lr in (1e-4, 1e-3):
      add({"train.learning_rate": lr})             # dotted keys of the config
      add(lr_name=lr) / add(arg="models=vggish")   # `arg`: this trial's get_config(arg)

Each entry becomes a Trial: `get_config(entry arg or the --config arg)`, then the command
line's `--config.x=y` overrides, then the entry's keys. Its id is a content hash of the resolved
config (canonical JSON), so it survives reordering and editing the sweep: an unchanged trial
keeps its id, finished work and row. Every problem is found here, before any trial runs, and
named by entry and key: an unknown key, a value of the wrong type, a config value that cannot
run (config_checks), an empty sweep. Entries that resolve to the same config are one trial
(warned). Nothing here imports Ray; JAX only through config_checks.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import inspect
import json
import os
import pickle
from typing import Any, Callable

import ml_collections

Overrides = dict[str, Any]
# Keys of an entry that are not config fields.
ARG = "arg"          # the entry's get_config(arg) string
RESOURCES = "resources"  # {"cpu": n, "gpu": n} of this trial (not part of its id)
DEFAULT_RESOURCES = {"cpu": 1, "gpu": 0}


class SweepError(ValueError):
  """A sweep that cannot run; the message names the entry, the key and the fix."""


@dataclasses.dataclass(frozen=True)
class Trial:
  id: str
  index: int                 # position of its first entry in the sweep
  arg: str | None            # get_config(arg) of this trial
  overrides: dict[str, Any]  # the entry's dotted keys as written
  config: ml_collections.ConfigDict  # resolved and locked
  resources: dict[str, float]


@dataclasses.dataclass
class Plan:
  trials: list[Trial]
  swept: list[str]                  # the fields any entry sets (+ "arg" when one sets it)
  duplicates: dict[str, list[int]]  # trial id -> entry indices that resolved to it (>1)

  def warnings(self) -> list[str]:
    return [f"sweep entries {idx} resolve to the same config (trial {tid}); it runs once."
            for tid, idx in self.duplicates.items()]


def load_module(path: str):
  if not os.path.exists(path):
    raise SweepError(f"Config file {path} does not exist.")
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise SweepError(f"{path} has no get_config(arg).")
  return module


def entries(module, arg: str | None) -> list[Overrides]:
  """The dicts `module.sweep(add[, arg])` adds ([{}] when the module has no sweep)."""
  if not hasattr(module, "sweep"):
    return [{}]
  out: list[Overrides] = []

  def add(overrides: Overrides | None = None, **kwargs: Any) -> None:
    out.append({**(overrides or {}), **kwargs})

  if len(inspect.signature(module.sweep).parameters) > 1:  # big_vision's sweep(add, arg=None)
    module.sweep(add, arg)
  else:
    module.sweep(add)
  if not out:
    raise SweepError(f"{module.__name__}.sweep(add) added no trials.")
  return out


def split_cli_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Takes `--config.KEY=VALUE` out of argv (absl would refuse them): (rest, {KEY: VALUE})."""
  rest, overrides = [], {}
  for item in argv:
    if item.startswith("--config."):
      key, sep, value = item[len("--config."):].partition("=")
      if not sep:
        raise SweepError(f"{item}: write --config.{key}=VALUE.")
      overrides[key] = value
    else:
      rest.append(item)
  return rest, overrides


def parse_text(key: str, text: str, current: Any) -> Any:
  """A command-line value in the type of the field it overrides (str fields take it as is)."""
  if isinstance(current, str):
    return text
  if isinstance(current, bool):
    if text.lower() not in ("true", "false", "1", "0"):
      raise SweepError(f"--config.{key}={text!r}: expected true or false.")
    return text.lower() in ("true", "1")
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError) as e:
    if current is None:
      return text
    raise SweepError(f"--config.{key}={text!r} is not a Python literal of type "
                     f"{type(current).__name__} ({e}).") from None


def apply(config: ml_collections.ConfigDict, overrides: Overrides, where: str
          ) -> ml_collections.ConfigDict:
  """A locked copy of `config` with dotted-key overrides, each checked against its field."""
  # An in-memory pickle round trip copies a ConfigDict 3x faster than ConfigDict(to_dict()),
  # which is most of a 1,000-trial dry run. Locked: existing fields change, none is added.
  config = pickle.loads(pickle.dumps(config))
  config.lock()
  for key, value in overrides.items():
    node, parts = config, key.split(".")
    for i, part in enumerate(parts):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        known = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
        raise SweepError(f"{where}: unknown key {key!r} (no field {'.'.join(parts[:i + 1])!r}); "
                         f"fields there: {known}")
      if i < len(parts) - 1:
        node = node[part]
    node[parts[-1]] = _checked(where, key, value, node[parts[-1]])
  return config.lock()


def _checked(where: str, key: str, value: Any, current: Any) -> Any:
  """`value` if it has the field's type (int for float and list for tuple are converted)."""
  if current is None:
    return value
  if isinstance(current, ml_collections.ConfigDict):
    if not isinstance(value, dict):
      raise SweepError(f"{where}: {key!r} is a section; set its fields ({key}.x) or give a dict.")
    return value
  if isinstance(current, tuple) and isinstance(value, list):
    value = tuple(value)
  ok = (isinstance(value, type(current)) and not (isinstance(value, bool) and
                                                   not isinstance(current, bool))
        or isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool))
  if not ok:
    raise SweepError(f"{where}: {key}={value!r} is a {type(value).__name__}; the field is a "
                     f"{type(current).__name__} (now {current!r}).")
  return float(value) if isinstance(current, float) else value


def canonical(config: ml_collections.ConfigDict) -> str:
  return json.dumps(config.to_dict(), sort_keys=True, default=str, separators=(",", ":"))


def trial_id(config: ml_collections.ConfigDict) -> str:
  """12 hex digits of sha256 over the resolved config (tuples and lists hash alike)."""
  return hashlib.sha256(canonical(config).encode()).hexdigest()[:12]


def make_plan(config_path_and_arg: str, cli_overrides: dict[str, str] | None = None,
              check: Callable[[ml_collections.ConfigDict], None] | None = None,
              default_resources: dict[str, float] | None = None) -> Plan:
  """Every trial of the sweep, resolved and checked (`check(config)`, e.g. config_checks.check)."""
  path, _, arg = config_path_and_arg.partition(":")
  module = load_module(path)
  arg = arg or None
  bases: dict[str | None, ml_collections.ConfigDict] = {}
  trials: dict[str, Trial] = {}
  seen: dict[str, list[int]] = {}
  swept: list[str] = []
  for index, entry in enumerate(entries(module, arg)):
    where = f"sweep entry {index} {_short(entry)}"
    entry = dict(entry)
    trial_arg = entry.pop(ARG, arg)
    resources = {**DEFAULT_RESOURCES, **(default_resources or {}), **entry.pop(RESOURCES, {})}
    if trial_arg not in bases:
      bases[trial_arg] = _base(module, trial_arg, cli_overrides or {}, where)
    config = apply(bases[trial_arg], entry, where)
    if check is not None:
      try:
        check(config)
      except ValueError as e:
        raise SweepError(f"{where}: {e}") from None
    swept += [k for k in entry if k not in swept]
    if trial_arg != arg and ARG not in swept:
      swept.insert(0, ARG)
    tid = trial_id(config)
    seen.setdefault(tid, []).append(index)
    if tid not in trials:
      trials[tid] = Trial(id=tid, index=index, arg=trial_arg, overrides=entry, config=config,
                          resources=resources)
  return Plan(trials=list(trials.values()), swept=swept,
              duplicates={t: i for t, i in seen.items() if len(i) > 1})


def _base(module, arg: str | None, cli: dict[str, str], where: str) -> ml_collections.ConfigDict:
  try:
    config = module.get_config(arg)
  except (ValueError, KeyError, TypeError) as e:
    raise SweepError(f"{where}: get_config({arg!r}) failed: {e}") from None
  typed = {k: parse_text(k, v, _lookup(config, k)) for k, v in cli.items()}
  return apply(config, typed, "command line")


def _lookup(config, key: str) -> Any:
  node = config
  for part in key.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return None  # apply() names the unknown key
    node = node[part]
  return node


def value_of(trial: Trial, key: str) -> Any:
  """The trial's resolved value of a swept field ("arg": its get_config arg)."""
  return trial.arg if key == ARG else _lookup(trial.config, key)


def _short(entry: Overrides) -> str:
  text = json.dumps(entry, sort_keys=True, default=str)
  return text if len(text) <= 120 else text[:117] + "..."
