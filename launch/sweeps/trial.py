"""One trial: its config from trial.json (written by the driver, JSON only), run on the selection
split and the evaluated split into its own workdir, with the shared data and cell caches.

Runs inside a Ray worker (engine.py) or directly (`run(sweep_dir, trial_id)`, the same code:
the benchmark compares the two). The trial writes its own status.json: running (pid, host,
attempt) -> ok, or failed with the error and its traceback; it never raises for an error of the
trial's code, so one failing trial stops nothing else. A trial whose process is killed leaves
"running" behind, which reads as interrupted (ledger.py): run again, its cells load from the
shared cache and a fine-tuning resumes from its checkpoints (train/loop.py, under the cells'
training key).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any, Callable

import ml_collections

from launch.sweeps import ledger

# cells/store.py (load_or_compute) logs one of these per cell: counted into status.json ("cells").
_COMPUTING = "Cell key %s: computing %s"
_LOADING = "Cell key %s unchanged: loading %s"


class _CellCounter(logging.Handler):
  def __init__(self):
    super().__init__()
    self.computed, self.loaded = [], []

  def emit(self, record):
    if record.msg == _COMPUTING:
      self.computed.append(str(record.args[1]))
    elif record.msg == _LOADING:
      self.loaded.append(str(record.args[1]))


def trial_config(sweep_dir: str, spec: dict[str, Any], split: str) -> ml_collections.ConfigDict:
  """The spec's config on `split`, with the sweep's shared data root and tfds cache (unless the
  config names its own): every trial reads one prepared copy of the data."""
  config = ml_collections.ConfigDict(spec["config"])
  config.data.split = split
  if not config.data.root:
    config.data.root = ledger.shared_dir(sweep_dir, "data")
  if "cache_dir" in config.data and not config.data.cache_dir:
    config.data.cache_dir = ledger.shared_dir(sweep_dir, "cache")
  return _tuples(config).lock()


def _tuples(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """JSON turned the config's tuples into lists; configs (and cell keys) hold tuples."""
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      _tuples(value)
    elif isinstance(value, list):
      config[key] = tuple(value)
  return config


def run(sweep_dir: str, trial_id: str, runner: Callable | None = None) -> str:
  """Runs the trial unless it is already ok; returns its final status."""
  if ledger.read_status(sweep_dir, trial_id)["status"] == "ok":
    return "ok"
  spec = ledger.read_json(ledger.spec_path(sweep_dir, trial_id))
  if spec is None or spec.get("id") != trial_id:
    raise FileNotFoundError(f"{ledger.spec_path(sweep_dir, trial_id)} is missing or belongs to "
                            "another trial; re-run launch.sweep to rewrite it.")
  ledger.set_status(sweep_dir, trial_id, "running")
  if runner is None:
    from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
    cpu_defaults.apply()  # before this process imports jax
    from launch import compile_cache  # pylint: disable=g-import-not-at-top
    compile_cache.enable()  # trials that share a model load its compiled steps
    from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
    runner = experiment.run_experiment
  counter = _CellCounter()
  absl_logger = logging.getLogger("absl")
  absl_logger.addHandler(counter)
  if absl_logger.level > logging.INFO or absl_logger.level == logging.NOTSET:
    absl_logger.setLevel(logging.INFO)
  workdir = ledger.trial_dir(sweep_dir, trial_id)
  start = time.perf_counter()
  splits = [s for s in (spec.get("select_split"), spec["config"]["data"]["split"]) if s]
  try:
    for split in dict.fromkeys(splits):  # the selection split first, then the evaluated one
      runner(trial_config(sweep_dir, spec, split), workdir,
             argv=["launch.sweep", f"trial={trial_id}", f"split={split}"],
             cells_dir=ledger.shared_dir(sweep_dir, "cells"))
  except Exception as e:  # pylint: disable=broad-except  (recorded; the sweep goes on)
    ledger.set_status(sweep_dir, trial_id, "failed", error=f"{type(e).__name__}: {e}",
                      traceback="".join(traceback.format_exception(e)),
                      seconds=round(time.perf_counter() - start, 2), **_cells(counter))
    return "failed"
  except BaseException as e:  # KeyboardInterrupt, SystemExit (SIGTERM): resumable
    ledger.set_status(sweep_dir, trial_id, "interrupted", error=f"{type(e).__name__}: {e}",
                      seconds=round(time.perf_counter() - start, 2), **_cells(counter))
    raise
  finally:
    absl_logger.removeHandler(counter)
  ledger.set_status(sweep_dir, trial_id, "ok", seconds=round(time.perf_counter() - start, 2),
                    **_cells(counter))
  return "ok"


def _cells(counter: _CellCounter) -> dict[str, Any]:
  return {"cells": {"computed": [os.path.basename(p) for p in counter.computed],
                    "loaded": [os.path.basename(p) for p in counter.loaded]}}
