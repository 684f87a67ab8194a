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

import os

from absl import app
from absl import flags

from launch import config_loader
from launch.sweeps import aggregate

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
_REUSE = flags.DEFINE_bool("reuse_workers", False, "Let a Ray worker process run several trials "
                           "in turn (keeps imports and compiled functions; experimental).")
_CLI_OVERRIDES: dict[str, str] = {}



def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  workdir = os.path.abspath(_WORKDIR.value)
  if _STATUS.value:
    try:
      print(aggregate.status_table(workdir))
    except FileNotFoundError as e:  # not a sweep directory (yet): one line, the fix in it
      raise app.UsageError(str(e)) from None
    return
  if not _CONFIG.value:
    raise app.UsageError("--config=PATH[:arg] is required (except with --status).")
  from launch.sweeps import driver  # pylint: disable=g-import-not-at-top
  try:
    driver.run_sweep(
        _CONFIG.value, workdir, _CLI_OVERRIDES, dry_run=_DRY_RUN.value,
        retry_failed=_RETRY_FAILED.value, select_split=_SELECT_SPLIT.value,
        metric=_METRIC.value, cpus_per_trial=_CPUS.value, gpus_per_trial=_GPUS.value,
        max_concurrent=_MAX_CONCURRENT.value, max_retries=_MAX_RETRIES.value,
        ray_address=_RAY_ADDRESS.value, ray_timeout=_RAY_TIMEOUT.value,
        num_cpus=_NUM_CPUS.value or None,
        num_gpus=None if _NUM_GPUS.value < 0 else _NUM_GPUS.value,
        ray_dashboard=_DASHBOARD.value, reuse_workers=_REUSE.value)
  except config_loader.ConfigLoadError as e:  # found before any trial: one line, the fix in it
    raise app.UsageError(str(e)) from None
  if not _DRY_RUN.value:
    print(aggregate.status_table(workdir))
    print(f"Results: {os.path.join(workdir, 'sweep_results.csv')}\n"
          f"Report:  {os.path.join(workdir, 'sweep_report.md')}")


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()  # before anything imports jax
  flags.mark_flags_as_required(["workdir"])
  app.run(main, flags_parser=config_loader.absl_flags_parser(_CLI_OVERRIDES))
