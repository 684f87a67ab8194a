"""Ray: where the trials run, and the Tuner that runs them.

Local (default): `ray.init` starts a Ray instance for this process only, bound to the loopback
interface (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray advertise and bind 127.0.0.1 instead of
the machine's address), with the dashboard (and so the job-submission API) off and `num_cpus`
from the flag. Ray has no authentication of its own beyond its token: nothing on the network
can reach this instance.

Cluster (`address`): used as given, after a bounded TCP probe so an unreachable address fails in
seconds with its name rather than hanging. Keep the cluster's ports inside a private network.
The cluster's nodes need this checkout importable (pip install -e . in their image).

Each invocation is one fresh Tuner over the trials that still need to run (its grid is their
ids): the sweep's own files (ledger.py) say what is done, so Ray's experiment state under
<sweep>/ray is never restored, and nothing is unpickled from the shared storage. A trial's
process that dies (SIGKILL, OOM, a lost node) is restarted by Ray up to `max_retries` times and
resumes from the cell caches; a trial whose code raises is recorded failed and not retried.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any

from launch.sweeps import ledger

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
_QUIET_ENV = {"RAY_CHDIR_TO_TRIAL_DIR": "0",  # trials keep the launcher's cwd (relative paths)
              "RAY_AIR_NEW_OUTPUT": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class RayAddressError(ConnectionError):
  pass


def probe(address: str, timeout_s: float) -> None:
  """Raises RayAddressError unless `address` (host:port or ray://host:port) accepts a TCP
  connection within `timeout_s`. "auto" is left to Ray (a cluster started on this machine)."""
  if address == "auto":
    return
  hostport = address.split("://", 1)[-1]
  host, _, port = hostport.rpartition(":")
  if not host or not port.isdigit():
    raise RayAddressError(f"--ray_address={address!r}: expected host:port or ray://host:port.")
  try:
    socket.create_connection((host, int(port)), timeout=timeout_s).close()
  except OSError as e:
    raise RayAddressError(f"--ray_address={address!r} is unreachable ({e}) within "
                          f"{timeout_s:g} s; start the cluster or fix the address.") from None


def start(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None,
          timeout_s: float = 10.0, include_dashboard: bool = False) -> dict[str, Any]:
  """Connects to (or starts) Ray; returns its cluster resources."""
  os.environ.update(_QUIET_ENV)
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  if address:
    probe(address, timeout_s)
  else:
    os.environ.update(LOOPBACK_ENV)  # read when ray is imported: set before the import
  import ray  # pylint: disable=g-import-not-at-top
  if ray.is_initialized():
    return ray.cluster_resources()
  kwargs: dict[str, Any] = dict(include_dashboard=include_dashboard, configure_logging=False,
                                log_to_driver=False)
  if address:
    kwargs["address"] = address
  else:
    kwargs.update(num_cpus=num_cpus or os.cpu_count(), num_gpus=num_gpus,
                  runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                      filter(None, [repo, os.environ.get("PYTHONPATH")])), **_QUIET_ENV}})
  ray.init(**kwargs)
  return ray.cluster_resources()


def stop() -> None:
  import ray  # pylint: disable=g-import-not-at-top
  if ray.is_initialized():
    ray.shutdown()


def _trainable(config: dict[str, Any]) -> None:
  from ray import tune  # pylint: disable=g-import-not-at-top
  from launch.sweeps import trial  # pylint: disable=g-import-not-at-top
  status = trial.run(config["sweep_dir"], config["trial_id"])
  tune.report({"trial_status": status})


def run_trials(sweep_dir: str, trial_ids: list[str], resources: dict[str, dict[str, float]],
               max_concurrent: int = 0, max_retries: int = 1,
               reuse_workers: bool = False) -> dict[str, str]:
  """Runs the trials as one Tuner; returns {trial id: Ray's error text} for those whose process
  died for good (their status.json still says running). `reuse_workers`: a worker process runs
  several trials (of the same resources) in turn, keeping its imports and compiled functions."""
  from ray import tune  # pylint: disable=g-import-not-at-top
  sweep_dir = os.path.abspath(sweep_dir)

  def trial_resources(spec):
    r = resources[spec["trial_id"]]
    return {"cpu": float(r.get("cpu", 1)), "gpu": float(r.get("gpu", 0))}

  tuner = tune.Tuner(
      tune.with_resources(_trainable, trial_resources),
      param_space={"trial_id": tune.grid_search(list(trial_ids)), "sweep_dir": sweep_dir},
      tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or None,
                                  reuse_actors=reuse_workers),
      run_config=tune.RunConfig(
          name=time.strftime("run-%Y%m%d-%H%M%S"), storage_path=os.path.join(sweep_dir, "ray"),
          verbose=0, failure_config=tune.FailureConfig(max_failures=max_retries),
          checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
  grid = tuner.fit()
  died = {}
  for result in grid:
    tid = result.config["trial_id"]
    if result.error is not None:
      died[tid] = ledger.one_line(result.error) or type(result.error).__name__
  print(f"Ray ran {len(grid)} trials", file=sys.stderr)
  return died
