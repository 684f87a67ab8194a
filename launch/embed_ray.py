"""The archive job on many independent machines: Ray tasks, one share of the recordings each.

    python -m launch.embed --config=experiments/configs/archive.py:root=PATH,model=NAME \
        --workdir=W --ray_workers=8 [--ray_address=HOST:PORT] [--ray_gpus_per_worker=1]

For GPU machines that share no jax.distributed job (a pod slice uses that instead: every host
runs launch.embed). The driver (this process) resolves the model once to key the store, creates
or recovers the store at W, and shares the pending recordings between `workers` tasks by length
(archive.share, the split the hosts of a pod use); each task (archive.embed_part) embeds its
share on its machine's devices and commits shards under its own writer id. Once every task has
returned, the driver counts their shards into the manifest (the store's recovery) and records
the run. Ray is started (or joined) by the sweep's code (launch/sweeps/engine.py): a local,
loopback-only instance by default. A task whose process dies is retried by Ray up to
`max_retries` times and skips what its earlier try committed; W must be one folder every
worker writes (a shared filesystem), and the archive at the same path on every worker.
"""

from __future__ import annotations

import time
from typing import Any

import ml_collections

from launch.sweeps import engine


def _part(config: ml_collections.ConfigDict, workdir: str, names: list[str],
          part: int) -> list[str]:
  """One Ray task: a fresh worker process, so the CPU flags go in before JAX starts."""
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  from bioacoustics_jax.soundscape import archive  # pylint: disable=g-import-not-at-top
  return archive.embed_part(config, workdir, names, part)


def embed_archive(config: ml_collections.ConfigDict, workdir: str, workers: int,
                  address: str | None = None, num_cpus: int | None = None,
                  gpus_per_worker: float = 0, cpus_per_worker: float = 1,
                  max_retries: int = 2) -> Any:
  """Embeds config.archive.root into the store at `workdir` with `workers` Ray tasks; returns
  the store (equal to a one-process run's)."""
  import ray  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import archive  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  if workers < 1:
    raise ValueError(f"--ray_workers={workers}: give at least 1.")
  start = time.perf_counter()
  job = archive.Job.from_config(config)
  store = store_lib.Store.open(workdir, job.settings, create=True, writer=True)
  pending = job.pending(store)
  shares = [s for s in archive.share(pending, workers) if s]
  print(f"{len(pending)} recordings ({sum(r.seconds for r in pending) / 3600:.2f} h of audio) "
        f"to embed in {len(shares)} Ray tasks", flush=True)
  if shares:
    engine.start(address, num_cpus=num_cpus)
    task = ray.remote(_part).options(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker,
                                     max_retries=max_retries)
    done = ray.get([task.remote(config, workdir, [r.name for r in s], i)
                    for i, s in enumerate(shares)])
    print(f"Ray tasks embedded {sum(len(d) for d in done)} recordings", flush=True)
  return archive.record_run(workdir, job.settings, config, [r.name for r in pending], start)
