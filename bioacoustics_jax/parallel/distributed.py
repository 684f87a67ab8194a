"""Multi-host set-up and the few collectives the experiment needs between hosts.

Every host runs the same command. `maybe_initialize()` joins the peers (jax.distributed) when the
environment names a multi-process run and does nothing otherwise:
- Cloud TPU pod slices: `BIOACOUSTICS_TPU_POD=1` (launch/tpu/run.sh sets it), or the TPU VM's own
  `TPU_WORKER_HOSTNAMES` listing more than one host: JAX finds coordinator and ids itself;
- elsewhere (CPU/GPU clusters, tests): JAX_COORDINATOR_ADDRESS (host:port of process 0),
  JAX_NUM_PROCESSES, JAX_PROCESS_ID.
The coordinator wait is bounded (`BIOACOUSTICS_COORDINATOR_TIMEOUT`, seconds, default 120): a
coordinator that never answers is an error that says what to check, not a hang; a peer that
dies mid-run fails the others after `BIOACOUSTICS_HEARTBEAT_TIMEOUT` seconds (default 100).

`check_setup(config_json, workdir)` then fails within seconds on set-ups that would give wrong or
split results: processes started with different configs, unequal device counts, a workdir that
is not one shared folder. `is_main()`, `barrier(name)` and `agree(flag)` are what the writers
and the cache decisions use; all are no-ops in a single-process run.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from typing import Any, Callable

import jax
from absl import logging

_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
TIMEOUT_ENV = "BIOACOUSTICS_COORDINATOR_TIMEOUT"
# A peer that stops answering (killed, preempted) fails the others after this many seconds.
HEARTBEAT_ENV = "BIOACOUSTICS_HEARTBEAT_TIMEOUT"
_initialized = False


class SetupError(RuntimeError):
  """A multi-host set-up that cannot give correct results; the message says what to fix."""


def _tpu_pod() -> bool:
  if os.environ.get("BIOACOUSTICS_TPU_POD") == "1":
    return True
  hosts = [h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h.strip()]
  return len(hosts) > 1


def maybe_initialize() -> bool:
  """Calls `jax.distributed.initialize` once when the env names a multi-process run.

  Must run before any other JAX call touches the devices (launch.run and launch.sweep call it
  first). Returns True if this process is part of a multi-process run.
  """
  global _initialized
  if _initialized:
    return True
  num = os.environ.get("JAX_NUM_PROCESSES")
  timeout = int(float(os.environ.get(TIMEOUT_ENV, "120")))
  if num is not None and int(num) > 1:
    missing = [k for k in _ENV if not os.environ.get(k)]
    if missing:
      raise EnvironmentError(f"JAX_NUM_PROCESSES={num} but {missing} unset: every process needs "
                             f"all of {_ENV} (coordinator host:port, count, this process's id).")
    kwargs = dict(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
                  num_processes=int(num), process_id=int(os.environ["JAX_PROCESS_ID"]))
  elif _tpu_pod():
    kwargs = {}
  else:
    return False
  if kwargs.get("process_id"):
    # The runtime aborts the process (no exception) when the coordinator never answers: probe
    # it first, so the error can say what to fix.
    _wait_for_coordinator(kwargs["coordinator_address"], timeout)
  try:
    jax.distributed.initialize(
        initialization_timeout=timeout,
        heartbeat_timeout_seconds=int(float(os.environ.get(HEARTBEAT_ENV, "100"))), **kwargs)
  except Exception as e:  # the runtime's errors name neither the cause nor the fix
    where = kwargs.get("coordinator_address", "the TPU slice's worker 0")
    raise SetupError(
        f"jax.distributed.initialize did not connect to the coordinator at {where} within "
        f"{timeout} s ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). Start "
        "the SAME command on every host at once (launch/tpu/run.sh run does), check that "
        "process 0 is up and its port reachable, that JAX_NUM_PROCESSES matches the number of "
        f"processes started, and that ids are 0..N-1; raise {TIMEOUT_ENV} for slow starts.") from e
  _initialized = True
  logging.info("jax.distributed: process %d/%d, %d local / %d global devices",
               jax.process_index(), jax.process_count(), jax.local_device_count(),
               jax.device_count())
  return True


def _wait_for_coordinator(address: str, timeout: float) -> None:
  host, _, port = address.rpartition(":")
  deadline = time.monotonic() + timeout
  while True:
    try:
      socket.create_connection((host, int(port)), timeout=2).close()
      return
    except OSError as e:
      if time.monotonic() > deadline:
        raise SetupError(
            f"jax.distributed.initialize did not connect to the coordinator at {address} within "
            f"{timeout:.0f} s ({e}). Start the SAME command on every host at once "
            "(launch/tpu/run.sh run does), check that process 0 is up and its port reachable, "
            "that JAX_NUM_PROCESSES matches the number of processes started, and that ids are "
            f"0..N-1; raise {TIMEOUT_ENV} for slow starts.") from e
      time.sleep(0.5)


def is_main() -> bool:
  """True on the process that writes results, reports, figures and run records."""
  return jax.process_index() == 0


# Host-level coordination goes through the coordination service (jax.distributed's key-value
# store and barriers, with explicit timeouts), never through device collectives: on CPU those
# run over gloo, which gives a late peer only 30 s, while process 0 may spend minutes writing
# a cell's report before the others may go on.
BARRIER_TIMEOUT_ENV = "BIOACOUSTICS_BARRIER_TIMEOUT"
_sequence = [0]


def _client():
  from jax._src import distributed as jax_distributed  # pylint: disable=g-import-not-at-top
  client = jax_distributed.global_state.client
  if client is None:
    raise SetupError("A multi-process run without jax.distributed: call "
                     "distributed.maybe_initialize() first (launch.run does).")
  return client


def _next_id(name: str) -> str:
  _sequence[0] += 1  # every process calls these helpers in the same order
  return f"bioacoustics/{_sequence[0]}/{name}"


def _timeout_ms() -> int:
  return int(float(os.environ.get(BARRIER_TIMEOUT_ENV, str(6 * 3600))) * 1000)


def barrier(name: str) -> None:
  """Every process waits here until all have arrived (no-op with one process)."""
  if jax.process_count() > 1:
    key = _next_id(name)
    try:
      _client().wait_at_barrier(key, _timeout_ms())
    except Exception as e:
      raise SetupError(f"Barrier {name!r}: not every process arrived within "
                       f"{_timeout_ms() // 1000} s ({str(e).splitlines()[0]}). Another host "
                       f"failed or is stuck (see its log); {BARRIER_TIMEOUT_ENV} sets the "
                       "wait.") from e


def all_gather_text(name: str, value: str) -> list[str]:
  """Every process's `value`, in process order, on every process."""
  if jax.process_count() == 1:
    return [value]
  key, client = _next_id(name), _client()
  client.key_value_set(f"{key}/{jax.process_index()}", value)
  return [client.blocking_key_value_get(f"{key}/{p}", _timeout_ms())
          for p in range(jax.process_count())]


def agree(flag: bool, name: str = "agree") -> bool:
  """Process 0's `flag` on every process: decisions that start collectives (compute a cell or
  load it from the cache) must be the same everywhere, or one host waits forever."""
  if jax.process_count() == 1:
    return bool(flag)
  key, client = _next_id(name), _client()
  if is_main():
    client.key_value_set(key, "1" if flag else "0")
    return bool(flag)
  return client.blocking_key_value_get(key, _timeout_ms()) == "1"


def warm_up(jitted: Callable, *args: Any, name: str) -> None:
  """Compiles `jitted` (jit or pmap) for `args`, then waits for every process: the first run of
  a program with cross-host collectives then starts on all hosts together (a compile that is
  slower on one host would otherwise overrun gloo's 30 s join window on CPU). Later calls hit
  the compilation cache. No-op with one process."""
  if jax.process_count() > 1:
    jitted.lower(*args).compile()
    barrier(f"compiled {name}")


def text_hash(text: str) -> str:
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_setup(config_json: str, workdir: str) -> None:
  """Fails fast, on every process, on a multi-process set-up that would be wrong.

  - every process must run the same config (a hash of `config_json` is compared);
  - every process must have the same number of devices (a partial or mixed slice);
  - `workdir` must be one folder that all processes see (process 0 writes a random token there;
    every other process must read it back), or each host would cache and report on its own.
  """
  if jax.process_count() == 1:
    return
  me = jax.process_index()
  hashes = all_gather_text("config hash", text_hash(config_json))
  differ = [p for p, h in enumerate(hashes) if h != hashes[0]]
  if differ:
    raise SetupError(f"Processes {differ} run a different config than process 0 (config hash "
                     f"{hashes}). Start every host with the same command, flags and "
                     "config file (same checkout: launch/tpu/run.sh setup ships one commit).")
  counts = [int(c) for c in all_gather_text("device counts", str(jax.local_device_count()))]
  if len(set(counts)) != 1 or sum(counts) != jax.device_count():
    raise SetupError(f"Local device counts differ between processes ({counts}, "
                     f"{jax.device_count()} global devices). Every host must expose all of its "
                     "accelerators (no CUDA_VISIBLE_DEVICES / TPU_VISIBLE_CHIPS subsets) and "
                     "JAX_NUM_PROCESSES must equal the number of hosts.")
  from bioacoustics_jax import paths  # pylint: disable=g-import-not-at-top
  token_path = paths.join(workdir, ".shared_workdir_check")
  token = secrets.token_hex(8)
  if me == 0:
    paths.makedirs(workdir)
    paths.write_text(token_path, token)
  token = all_gather_text("workdir token", token if me == 0 else "")[0]
  seen = paths.read_text(token_path) if paths.exists(token_path) else ""
  ok = [v == "1" for v in all_gather_text("workdir seen", "1" if seen == token else "0")]
  if me == 0:
    paths.remove(token_path)
  barrier("workdir checked")
  if not all(ok):
    raise SetupError(
        f"The workdir {workdir} is not shared: processes {[p for p, v in enumerate(ok) if not v]} "
        "do not see the file process 0 wrote there. Use storage every host reads and writes (a "
        "gs:// bucket path or an NFS mount) for --workdir (and data.root, data.cache_dir).")
