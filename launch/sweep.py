r"""Runs every trial of a config module's `sweep(add[, arg])` on Ray Tune (launch/sweeps/).

  python -m launch.sweep --config=experiments/configs/quickstart.py:smoke=true \
      --workdir=workdir/sweep [--config.train.num_epochs=2 ...] [--num_cpus=8] \
      [--max_concurrent=N] [--ray_address=HOST:PORT] [--retry_failed] [--dry_run | --status]

Each trial (its id: a content hash of its resolved config) runs in its own Ray worker into
`<workdir>/runs/<trial id>/`, first on --select_split (valid) and then on the config's split
(test), with the data, tfds preparation and cell caches shared by all trials under
`<workdir>/shared/`. Re-running the same command skips finished trials, resumes interrupted
ones (their cells and checkpoints are cached) and retries failed ones only with --retry_failed.
Every problem that can be found before a trial starts is: unknown keys, wrong types, values
that cannot run, models that cannot read a dataset, an unreachable --ray_address.
`sweep_results.csv` and `sweep_report.md` are rewritten after every invocation; --status
prints where the sweep stands.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

from absl import app
from absl import flags

from launch.sweeps import aggregate
from launch.sweeps import ledger
from launch.sweeps import plan as plan_lib

_CONFIG = flags.DEFINE_string("config", None, "Config file[:arg] with get_config and sweep(add).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Sweep directory.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Expand and validate every trial; run nothing.")
_STATUS = flags.DEFINE_bool("status", False, "Print done/running/failed/pending and exit.")
_RETRY_FAILED = flags.DEFINE_bool("retry_failed", False, "Re-run the trials that failed.")
_RAY_ADDRESS = flags.DEFINE_string("ray_address", "", "A Ray cluster (host:port, ray://host:port "
                                   "or auto); '' starts a local loopback-only Ray.")
_RAY_TIMEOUT = flags.DEFINE_float("ray_timeout", 10.0, "Seconds to wait for --ray_address.")
_NUM_CPUS = flags.DEFINE_integer("num_cpus", 0, "CPUs of the local Ray (0 = all).")
_NUM_GPUS = flags.DEFINE_integer("num_gpus", -1, "GPUs of the local Ray (-1 = detect).")
_CPUS = flags.DEFINE_float("cpus_per_trial", 1, "Default CPUs per trial (an entry's "
                           "resources={'cpu': n, 'gpu': m} wins).")
_GPUS = flags.DEFINE_float("gpus_per_trial", 0, "Default GPUs per trial (1 = one device each).")
_MAX_CONCURRENT = flags.DEFINE_integer("max_concurrent", 0, "Trials at once (0 = as resources "
                                       "allow).")
_MAX_RETRIES = flags.DEFINE_integer("max_retries", 1, "Restarts of a trial whose process died.")
_SELECT_SPLIT = flags.DEFINE_string("select_split", "valid", "Split the best settings are chosen "
                                    "on ('' = none); never the evaluated (test) split.")
_METRIC = flags.DEFINE_string("select_metric", "nmi", "results.csv column to choose by (higher "
                              "is better).")
_DASHBOARD = flags.DEFINE_bool("ray_dashboard", False, "Start the local Ray's dashboard (and "
                               "its job-submission API) on localhost.")
_CLI_OVERRIDES: dict[str, str] = {}


def _flags_parser(argv: list[str]) -> list[str]:
  rest, overrides = plan_lib.split_cli_overrides(argv)
  _CLI_OVERRIDES.update(overrides)
  return flags.FLAGS(rest)


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


def write_plan(workdir: str, config: str, plan: plan_lib.Plan, select_split: str) -> None:
  """trial.json of every trial (rewritten only when it changed) and sweep.json."""
  for t in plan.trials:
    spec = {"id": t.id, "index": t.index, "arg": t.arg, "overrides": t.overrides,
            "swept": {k: plan_lib.value_of(t, k) for k in plan.swept},
            "config": t.config.to_dict(), "resources": t.resources, "select_split": select_split}
    if ledger.read_json(ledger.spec_path(workdir, t.id)) != _json_roundtrip(spec):
      ledger.write_json(ledger.spec_path(workdir, t.id), spec)
  ledger.write_json(os.path.join(workdir, "sweep.json"), {
      "config": config, "overrides": _CLI_OVERRIDES, "swept": plan.swept,
      "trials": [t.id for t in plan.trials], "select_split": select_split,
      "eval_split": plan.trials[0].config.data.split, "command": " ".join(sys.argv)})


def _json_roundtrip(data):
  import json  # pylint: disable=g-import-not-at-top
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
    raise app.UsageError(f"Another launch.sweep is running on {workdir}.") from None
  return handle


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  workdir = os.path.abspath(_WORKDIR.value)
  if _STATUS.value:
    print(aggregate.status_table(workdir))
    return
  if not _CONFIG.value:
    raise app.UsageError("--config=PATH[:arg] is required (except with --status).")
  start = time.perf_counter()
  from launch.sweeps import checks  # pylint: disable=g-import-not-at-top
  from launch.sweeps import engine  # pylint: disable=g-import-not-at-top
  plan = expand(_CONFIG.value, _CLI_OVERRIDES, _SELECT_SPLIT.value, _CPUS.value, _GPUS.value)
  for warning in plan.warnings():
    print("WARNING:", warning, file=sys.stderr)
  # Before anything is written: synthetic sets not written yet are checked from their spec.
  pairs = checks.check_compatibility(plan.trials, lambda t: data_root(workdir, t))
  if _DRY_RUN.value:
    for t in plan.trials:
      print(t.id, ledger.read_status(workdir, t.id)["status"],
            {k: plan_lib.value_of(t, k) for k in plan.swept})
    print(f"{len(plan.trials)} trials, {len(plan.swept)} swept fields, {pairs} model x data "
          f"pairs checked, in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return
  if _RAY_ADDRESS.value:
    engine.probe(_RAY_ADDRESS.value, _RAY_TIMEOUT.value)
  lock = _lock(workdir)
  try:
    write_plan(workdir, _CONFIG.value, plan, _SELECT_SPLIT.value)
    prepare_data(workdir, plan)
    ids, seen = to_run(workdir, plan, _RETRY_FAILED.value)
    print(f"{len(plan.trials)} trials: " + ", ".join(f"{n} {s}" for s, n in seen.items()) +
          f"; running {len(ids)}", file=sys.stderr)
    if ids:
      engine.start(_RAY_ADDRESS.value or None, num_cpus=_NUM_CPUS.value or None,
                   num_gpus=None if _NUM_GPUS.value < 0 else _NUM_GPUS.value,
                   timeout_s=_RAY_TIMEOUT.value, include_dashboard=_DASHBOARD.value)
      died = engine.run_trials(workdir, ids, {t.id: t.resources for t in plan.trials},
                               max_concurrent=_MAX_CONCURRENT.value,
                               max_retries=_MAX_RETRIES.value)
      for tid, error in died.items():
        if ledger.read_status(workdir, tid)["status"] in ("running", "interrupted"):
          ledger.set_status(workdir, tid, "interrupted", error=f"Ray: {error}")
    results_csv, report_md = aggregate.write_all(workdir, _METRIC.value)
  finally:
    lock.close()
  print(aggregate.status_table(workdir))
  print(f"Results: {results_csv}\nReport:  {report_md}")


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()  # before anything imports jax
  flags.mark_flags_as_required(["workdir"])
  app.run(main, flags_parser=_flags_parser)
