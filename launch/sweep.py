r"""Expands a config's `sweep(add)` into runs and executes them (or this worker's share of them).

A config module opts in with big_vision-style sweeps as data:

  def sweep(add):
    for min_dist in (0.1, 0.5):
      add({"evaluate.umap_min_dist": min_dist})

Each run gets `<workdir>/runs/<index>_<slug>/` and its own results.csv; `<workdir>/sweep_results.csv`
gathers every finished run's rows with one column per swept field, and `<workdir>/report.html`
shows every finished trial on one page (report/html.py). Workers split the runs
round-robin, so N machines (or N TPU VMs) run a sweep with the same command and --worker=0..N-1:

  python -m launch.sweep --config=experiments/configs/quickstart.py:size=tiny \
      --workdir=workdir/sweep [--dry_run] [--worker=0 --num_workers=1]
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
from typing import Any, Callable

import ml_collections

Overrides = dict[str, Any]


def load_config_module(path: str):
  if not os.path.exists(path):
    raise FileNotFoundError(f"Config file {path} does not exist.")
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def expand(config_module) -> list[Overrides]:
  """The list of override dicts the module's `sweep(add)` adds ([{}] when it has none)."""
  if not hasattr(config_module, "sweep"):
    return [{}]
  runs: list[Overrides] = []

  def add(overrides: Overrides | None = None, **kwargs: Any) -> None:
    runs.append({**(overrides or {}), **kwargs})

  config_module.sweep(add)
  if not runs:
    raise ValueError(f"{config_module.__name__}.sweep(add) added no runs.")
  return runs


def apply_overrides(config: ml_collections.ConfigDict, overrides: Overrides
                    ) -> ml_collections.ConfigDict:
  """A copy of `config` with dotted-path overrides; an unknown path is an error naming it."""
  config = ml_collections.ConfigDict(config.to_dict())  # independent, unlocked copy
  for path, value in overrides.items():
    node, *parents = config, *path.split(".")[:-1]
    for part in parents:
      if part not in node:
        raise KeyError(f"Sweep key {path!r}: no field {part!r}; fields: {sorted(node.keys())}")
      node = node[part]
    leaf = path.split(".")[-1]
    if leaf not in node:
      raise KeyError(f"Sweep key {path!r}: no field {leaf!r}; fields: {sorted(node.keys())}")
    node[leaf] = tuple(value) if isinstance(value, list) else value
  return config.lock()


def run_name(index: int, overrides: Overrides) -> str:
  slug = ",".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in overrides.items()) or "base"
  return f"{index:03d}_" + re.sub(r"[^A-Za-z0-9_.,=+-]", "_", slug)[:80]


def run_sweep(config_path_and_arg: str, workdir: str, run: Callable[[Any, str], str], *,
              worker: int = 0, num_workers: int = 1, dry_run: bool = False) -> list[str]:
  """Runs this worker's share of the sweep with `run(config, run_workdir)`; returns run dirs."""
  path, _, arg = config_path_and_arg.partition(":")
  module = load_config_module(path)
  base = module.get_config(arg or None)
  planned = []
  for index, overrides in enumerate(expand(module)):
    config = apply_overrides(base, overrides)  # every run is validated, even others' share
    run_dir = os.path.join(workdir, "runs", run_name(index, overrides))
    if index % num_workers == worker:
      planned.append((run_dir, config, overrides))
  for run_dir, config, overrides in planned:
    print(("would run " if dry_run else "running ") + run_dir, overrides)
    if not dry_run:
      run(config, run_dir)
  if not dry_run:
    gather(workdir)
  return [p[0] for p in planned]


def gather(workdir: str) -> str:
  """Concatenates every run's results.csv into sweep_results.csv, tagged with the run name."""
  rows, fields = [], ["run"]
  runs_dir = os.path.join(workdir, "runs")
  for name in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
    path = os.path.join(runs_dir, name, "results.csv")
    if not os.path.exists(path):
      continue
    with open(path, newline="") as f:
      for row in csv.DictReader(f):
        rows.append({"run": name, **row})
        fields += [k for k in row if k not in fields]
  out = os.path.join(workdir, "sweep_results.csv")
  with open(out, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  return out


def _short(value: Any) -> str:
  return "+".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def main(argv):
  del argv
  from absl import flags  # pylint: disable=g-import-not-at-top
  # A multi-process run (TPU pod slice, coordinator variables) joins its peers first.
  from bioacoustics_jax.parallel import distributed  # pylint: disable=g-import-not-at-top
  distributed.maybe_initialize()
  from launch import compile_cache  # pylint: disable=g-import-not-at-top
  compile_cache.enable()  # trials that share a model load its compiled steps
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  run_sweep(f.config, f.workdir, experiment.run_experiment, worker=f.worker,
            num_workers=f.num_workers, dry_run=f.dry_run)
  if not f.dry_run:  # one page over every finished trial (each worker refreshes it)
    from bioacoustics_jax.report import html  # pylint: disable=g-import-not-at-top
    print("Sweep page:", html.write_html(f.workdir))


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()  # before anything imports jax
  from absl import app, flags  # pylint: disable=g-import-not-at-top,g-multiple-import
  flags.DEFINE_string("config", None, "Config file[:arg] with get_config and sweep(add).")
  flags.DEFINE_string("workdir", None, "Sweep directory.")
  flags.DEFINE_integer("worker", 0, "This worker's index.")
  flags.DEFINE_integer("num_workers", 1, "How many workers share the sweep.")
  flags.DEFINE_bool("dry_run", False, "Print the runs without executing them.")
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
