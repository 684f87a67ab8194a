"""Multi-host set-up: `jax.distributed.initialize()` only when the environment asks for it.

Every host runs the same command. On Cloud TPU VMs JAX discovers the coordinator itself
(`JAX_COORDINATOR_ADDRESS` or TPU metadata); elsewhere (CPU/GPU clusters, tests) the three
variables below say who is who. A single-process run does nothing.
"""

from __future__ import annotations

import os

import jax
from absl import logging

_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
_initialized = False


def maybe_initialize() -> bool:
  """Calls `jax.distributed.initialize` once when the env names a multi-process run.

  Env: JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES, JAX_PROCESS_ID;
  or BIOACOUSTICS_TPU_POD=1 on a TPU pod (JAX finds the rest). Must run before any other JAX
  call touches the devices. Returns True if this process is part of a multi-process run.
  """
  global _initialized
  if _initialized:
    return True
  num = os.environ.get("JAX_NUM_PROCESSES")
  if os.environ.get("BIOACOUSTICS_TPU_POD") == "1":
    jax.distributed.initialize()
  elif num is not None and int(num) > 1:
    missing = [k for k in _ENV if not os.environ.get(k)]
    if missing:
      raise EnvironmentError(f"JAX_NUM_PROCESSES={num} but {missing} unset: every process needs "
                             f"all of {_ENV} (coordinator host:port, count, this process's id).")
    jax.distributed.initialize(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
                               num_processes=int(num),
                               process_id=int(os.environ["JAX_PROCESS_ID"]))
  else:
    return False
  _initialized = True
  logging.info("jax.distributed: process %d/%d, %d local / %d global devices",
               jax.process_index(), jax.process_count(), jax.local_device_count(),
               jax.device_count())
  return True
