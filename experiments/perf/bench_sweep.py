r"""Sweep costs: the 1,000-trial dry run, and Ray's per-trial overhead over calling the runner.

  /work/main/.venv/bin/python -m experiments.perf.bench_sweep --mode=dry_run --trials=1000
  /work/main/.venv/bin/python -m experiments.perf.bench_sweep --mode=overhead --trials=4

dry_run: a config module whose sweep adds `--trials` distinct trials over the quickstart smoke
config (lr x pca_dim x umap_min_dist x seed x models) is expanded and validated exactly as
`launch.sweep --dry_run` does (typed overrides, config_checks on every trial, model x data
checks), in this process after its imports (the "expand + validate" number), and as the whole
command in a fresh process (imports of JAX, TF and the evaluator included).

overhead: 2N+1 evaluation-only trials (different evaluate.pca_dim, one shared frozen cell) in
one sweep folder; the first warms the cell cache; N then run by `trial.run` in this process one
after the other (the runner called directly, imports and compiled functions shared), and N
through `driver.run_sweep` on a local Ray with max_concurrent=1 (each trial a fresh Ray worker
process: Ray's scheduling plus the worker's own imports). The header records the load average.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time

from absl import app
from absl import flags

_MODE = flags.DEFINE_enum("mode", "dry_run", ["dry_run", "overhead"], "What to measure.")
_TRIALS = flags.DEFINE_integer("trials", 1000, "Trials (dry_run) or N (overhead).")
_REUSE = flags.DEFINE_bool("reuse_workers", False, "overhead: a Ray worker runs several trials.")
_WORKDIR = flags.DEFINE_string("workdir", "", "Folder for the sweep ('' = a temporary one).")

CONFIG = textwrap.dedent('''
    """Benchmark sweep over the quickstart smoke config."""
    import itertools
    from experiments.configs import quickstart

    def get_config(arg=None):
      config = quickstart.get_config(arg or "smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("pca",)
        config.evaluate.clusterers = ("kmeans",)
        config.evaluate.probes = ()
      return config

    def sweep(add):
      grid = itertools.product((1e-5, 1e-4, 1e-3, 1e-2, 1e-1), (2, 3, 4, 5, 6, 8, 10, 12, 16, 20),
                               (0.0, 0.1, 0.25, 0.5, 0.8), (1, 2, 3, 4), (("rn18",), ("rn50",)))
      for i, (lr, pca, md, seed, models) in enumerate(grid):
        if i == TRIALS:
          return
        add({"train.learning_rates": (lr,), "evaluate.pca_dim": pca,
             "evaluate.umap_min_dist": md, "seed": seed, "models": models})
    ''')

OVERHEAD = textwrap.dedent('''
    """Evaluation-only trials: one frozen cell, N pca_dims."""
    from experiments.configs import quickstart

    def get_config(arg=None):
      config = quickstart.get_config("smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("pca",)
        config.evaluate.clusterers = ("kmeans",)
        config.evaluate.probes = ()
      return config

    def sweep(add):
      for pca in range(2, 3 + 2 * TRIALS):
        add({"evaluate.pca_dim": pca})
    ''')


def _load() -> str:
  return f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} on {os.cpu_count()} CPUs"


def dry_run(workdir: str, n: int) -> None:
  path = os.path.join(workdir, "bench_sweep_cfg.py")
  with open(path, "w") as f:
    f.write(CONFIG.replace("TRIALS", str(n)))
  from launch.sweeps import checks  # pylint: disable=g-import-not-at-top
  from launch.sweeps import driver  # pylint: disable=g-import-not-at-top
  print(_load())
  for attempt in range(2):  # the first pays for the config module's own imports
    start, cpu = time.perf_counter(), time.process_time()
    plan = driver.expand(path, {}, "valid")
    mid = time.perf_counter()
    pairs = checks.check_compatibility(plan.trials, lambda t: os.path.join(workdir, "data"))
    end = time.perf_counter()
    print(f"[{attempt}] {len(plan.trials)} trials expanded + validated in {mid - start:.2f} s, "
          f"{pairs} model x data pairs checked in {end - mid:.2f} s: {end - start:.2f} s wall, "
          f"{time.process_time() - cpu:.2f} s CPU")
  start = time.perf_counter()
  cmd = [sys.executable, "-m", "launch.sweep", f"--config={path}",
         f"--workdir={os.path.join(workdir, 'sweep')}", "--dry_run"]
  out = subprocess.run(cmd, capture_output=True, text=True, check=True)
  print(f"command `{' '.join(cmd[1:])}`: {time.perf_counter() - start:.2f} s wall "
        f"({out.stderr.strip().splitlines()[-1]})")


def overhead(workdir: str, n: int) -> None:
  from launch.sweeps import driver  # pylint: disable=g-import-not-at-top
  from launch.sweeps import engine  # pylint: disable=g-import-not-at-top
  from launch.sweeps import ledger  # pylint: disable=g-import-not-at-top
  from launch.sweeps import trial  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "bench_overhead_cfg.py")
  with open(path, "w") as f:
    f.write(OVERHEAD.replace("TRIALS", str(n)))
  sweep_dir = os.path.join(workdir, "sweep")
  plan = driver.expand(path, {}, "valid")
  driver.write_plan(sweep_dir, path, plan, "valid")
  driver.prepare_data(sweep_dir, plan)
  print(_load())
  start = time.perf_counter()
  assert trial.run(sweep_dir, plan.trials[0].id) == "ok"
  print(f"warm-up trial (imports, data preparation, the frozen cell): "
        f"{time.perf_counter() - start:.1f} s")
  direct = plan.trials[1:1 + n]
  start = time.perf_counter()
  for t in direct:
    assert trial.run(sweep_dir, t.id) == "ok"
  direct_s = (time.perf_counter() - start) / n
  print(f"direct: {n} trials, {direct_s:.2f} s per trial (trial.run in this process)")
  start = time.perf_counter()
  engine.start(num_cpus=2)
  ray_start = time.perf_counter() - start
  start = time.perf_counter()
  driver.run_sweep(path, sweep_dir, select_split="valid", max_concurrent=1, max_retries=0,
                   reuse_workers=_REUSE.value)
  ray_s = (time.perf_counter() - start) / n
  statuses = [ledger.read_status(sweep_dir, t.id) for t in plan.trials[1 + n:]]
  assert all(s["status"] == "ok" for s in statuses), statuses
  inside = sum(s["seconds"] for s in statuses) / n
  engine.stop()
  print(f"Ray (reuse_workers={_REUSE.value}): start {ray_start:.1f} s once; {n} trials, "
        f"{ray_s:.2f} s per trial wall "
        f"(of which {inside:.2f} s inside the trial after its imports)")
  print(f"per-trial overhead of Ray over the direct call: {ray_s - direct_s:.2f} s")


def main(argv):
  del argv
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix="bench_sweep_")
  os.makedirs(workdir, exist_ok=True)
  (dry_run if _MODE.value == "dry_run" else overhead)(workdir, _TRIALS.value)


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  app.run(main)
