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

import dataclasses
import hashlib
import inspect
import json
from typing import Any, Callable

import ml_collections

from launch import config_loader

Overrides = dict[str, Any]
# Keys of an entry that are not config fields.
ARG = "arg"          # the entry's get_config(arg) string
RESOURCES = "resources"  # {"cpu": n, "gpu": n} of this trial (not part of its id)
DEFAULT_RESOURCES = {"cpu": 1, "gpu": 0}


# A sweep that cannot run; the message names the entry, the key and the fix. The loader's error:
# a sweep fails on its configs first.
SweepError = config_loader.ConfigLoadError


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
  module = config_loader.load_module(path)
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
      bases[trial_arg] = config_loader.resolve(module, trial_arg, cli_overrides or {}, where)
    config = config_loader.apply(bases[trial_arg], entry, where)
    config_loader.check_effect(module, config, entry, where + ": swept field {key}")
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


def value_of(trial: Trial, key: str) -> Any:
  """The trial's resolved value of a swept field ("arg": its get_config arg)."""
  return trial.arg if key == ARG else config_loader.lookup(trial.config, key)


def _short(entry: Overrides) -> str:
  text = json.dumps(entry, sort_keys=True, default=str)
  return text if len(text) <= 120 else text[:117] + "..."
