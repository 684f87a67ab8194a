"""One invocation of a sweep, flag-free: plan -> checks -> trial files -> data -> Ray -> reports.

launch/sweep.py parses the flags and calls `run_sweep`; tests call it with a Ray already
started (engine.start returns at once then).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time

from launch.sweeps import aggregate
from launch.sweeps import checks
from launch.sweeps import engine
from launch.sweeps import ledger
from launch.sweeps import plan as plan_lib


class SweepBusy(RuntimeError):
  pass


def expand(config: str, overrides: dict[str, str], select_split: str = "",
           cpus: float = 1, gpus: float = 0) -> plan_lib.Plan:
  """The validated plan (every trial's config checked by config_checks)."""
  from bioacoustics_jax import config_checks  # pylint: disable=g-import-not-at-top
  plan = plan_lib.make_plan(config, overrides, check=config_checks.check,
                            default_resources={"cpu": cpus, "gpu": gpus})
  check_select_split(plan, select_split)
  return plan


def check_select_split(plan: plan_lib.Plan, select_split: str) -> None:
  for trial in plan.trials:
    if select_split and trial.config.data.split == select_split:
      raise plan_lib.SweepError(f"trial {trial.id} (sweep entry {trial.index}) evaluates "
                                f"data.split={select_split!r}, the selection split; choose "
                                "on another (--select_split) or evaluate on test.")


def write_plan(workdir: str, config: str, plan: plan_lib.Plan, select_split: str,
               overrides: dict[str, str] | None = None) -> None:
  """trial.json of every trial (rewritten only when it changed) and sweep.json."""
  for t in plan.trials:
    spec = {"id": t.id, "index": t.index, "arg": t.arg, "overrides": t.overrides,
            "swept": {k: plan_lib.value_of(t, k) for k in plan.swept},
            "config": t.config.to_dict(), "resources": t.resources, "select_split": select_split}
    if ledger.read_json(ledger.spec_path(workdir, t.id)) != _json_roundtrip(spec):
      ledger.write_json(ledger.spec_path(workdir, t.id), spec)
  ledger.write_json(os.path.join(workdir, "sweep.json"), {
      "config": config, "overrides": overrides or {}, "swept": plan.swept,
      "trials": [t.id for t in plan.trials], "select_split": select_split,
      "eval_split": plan.trials[0].config.data.split, "command": " ".join(sys.argv)})


def _json_roundtrip(data):
  return json.loads(json.dumps(data, sort_keys=True, default=str))


def prepare_data(workdir: str, plan: plan_lib.Plan) -> None:
  """Writes each synthetic suite once per data root, before trials read it concurrently."""
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  done = set()
  for t in plan.trials:
    data = t.config.data
    if not data.synthetic_size:
      continue
    key = (data_root(workdir, t), data.synthetic_size, data.synthetic_seed, tuple(data.datasets))
    if key not in done:
      synthetic.write_suite(key[0], size=key[1], seed=key[2], names=list(key[3]) or None)
      done.add(key)


def data_root(workdir: str, trial: plan_lib.Trial) -> str:
  return trial.config.data.root or ledger.shared_dir(os.path.abspath(workdir), "data")


def to_run(workdir: str, plan: plan_lib.Plan, retry_failed: bool) -> tuple[list[str], dict]:
  """(ids to run, {status: count}) by each trial's status: ok are skipped, failed only re-run
  with retry_failed, running ones (a live process) are left alone."""
  ids, seen = [], {s: 0 for s in ledger.STATES}
  for t in plan.trials:
    status = ledger.read_status(workdir, t.id)["status"]
    seen[status] += 1
    if status in ("pending", "interrupted") or status == "failed" and retry_failed:
      ids.append(t.id)
  return ids, seen


def _lock(workdir: str):
  os.makedirs(workdir, exist_ok=True)
  handle = open(os.path.join(workdir, "sweep.lock"), "a")  # pylint: disable=consider-using-with
  try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    raise SweepBusy(f"Another launch.sweep is running on {workdir}.") from None
  return handle




def run_sweep(config: str, workdir: str, overrides: dict[str, str] | None = None, *,
              dry_run: bool = False, retry_failed: bool = False, select_split: str = "valid",
              metric: str = "nmi", cpus_per_trial: float = 1, gpus_per_trial: float = 0,
              max_concurrent: int = 0, max_retries: int = 1, ray_address: str = "",
              ray_timeout: float = 10.0, num_cpus: int | None = None,
              num_gpus: int | None = None, ray_dashboard: bool = False,
              reuse_workers: bool = False) -> plan_lib.Plan:
  """Runs (or, dry, lists) the sweep's trials that still need to run; returns the plan."""
  start = time.perf_counter()
  workdir = os.path.abspath(workdir)
  plan = expand(config, overrides or {}, select_split, cpus_per_trial, gpus_per_trial)
  for warning in plan.warnings():
    print("WARNING:", warning, file=sys.stderr)
  # Before anything is written: synthetic sets not written yet are checked from their spec.
  pairs = checks.check_compatibility(plan.trials, lambda t: data_root(workdir, t))
  if dry_run:
    for t in plan.trials:
      print(t.id, ledger.read_status(workdir, t.id)["status"],
            json.dumps({k: plan_lib.value_of(t, k) for k in plan.swept}, default=str))
    print(f"{len(plan.trials)} trials, {len(plan.swept)} swept fields, {pairs} model x data "
          f"pairs checked, in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return plan
  if ray_address:
    engine.probe(ray_address, ray_timeout)
  lock = _lock(workdir)
  try:
    write_plan(workdir, config, plan, select_split, overrides)
    prepare_data(workdir, plan)
    ids, seen = to_run(workdir, plan, retry_failed)
    print(f"{len(plan.trials)} trials: " + ", ".join(f"{n} {s}" for s, n in seen.items()) +
          f"; running {len(ids)}", file=sys.stderr)
    if ids:
      engine.start(ray_address or None, num_cpus=num_cpus, num_gpus=num_gpus,
                   timeout_s=ray_timeout, include_dashboard=ray_dashboard)
      died = engine.run_trials(workdir, ids, {t.id: t.resources for t in plan.trials},
                               max_concurrent=max_concurrent, max_retries=max_retries,
                               reuse_workers=reuse_workers)
      for tid, error in died.items():
        if ledger.read_status(workdir, tid)["status"] in ("running", "interrupted"):
          ledger.set_status(workdir, tid, "interrupted", error=f"Ray: {error}")
    aggregate.write_all(workdir, metric)
  finally:
    lock.close()
  return plan
