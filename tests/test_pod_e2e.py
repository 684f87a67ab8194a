"""The quickstart smoke experiment (frozen + fine-tuned) on 2 processes x 2 CPU devices
(jax.distributed over localhost, real `python -m launch.run` subprocesses, one shared workdir)
gives the results of 1 process x 4 devices: same rows, same metrics, embeddings within 1e-5,
ids in the same order. One process is killed mid-fine-tuning; the other then fails instead of
hanging, and the relaunched pair resumes from the checkpoint and the frozen cell's cache.

Slow (three launches, each compiling ResNet-18's steps: 33 min on 2 cores shared with other
jobs at load 11-18, measured; far less idle); run with `pytest -m slow tests/test_pod_e2e.py`.
"""

import csv
import glob
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["--config=experiments/configs/quickstart.py:smoke=true,regimes=frozen+finetuned,"
        "datasets=synth_bats",
        "--config.evaluate.reducers=('pca',)", "--config.evaluate.clusterers=('kmeans',)",
        "--config.evaluate.probes=()", "--config.train.num_epochs=2",
        "--config.train.checkpoint_every_steps=1",
        "--config.train.checkpoint_min_interval_seconds=0"]
METRICS = ("ari", "nmi", "ami", "accuracy", "n", "n_classes", "n_clusters", "embedding_dim",
           "status")
KEY = ("dataset", "model", "regime", "split", "reducer", "clusterer")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(workdir, processes: int, devices: int, cache: str, tag: str):
  port = _free_port()
  procs = []
  for pid in range(processes):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, BIOACOUSTICS_JAX_COMPILE_CACHE=cache,
               BIOACOUSTICS_HEARTBEAT_TIMEOUT="15")
    if processes > 1:
      env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES=str(processes),
                 JAX_PROCESS_ID=str(pid))
    log = open(os.path.join(os.path.dirname(workdir), f"{tag}.p{pid}.log"), "w")
    procs.append((subprocess.Popen([sys.executable, "-m", "launch.run", *ARGS,
                                    f"--workdir={workdir}"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT), log))
  return procs


def _wait(procs, timeout: float) -> list[str]:
  deadline, logs = time.monotonic() + timeout, []
  try:
    for p, log in procs:
      p.wait(timeout=max(deadline - time.monotonic(), 1))
  finally:
    for p, log in procs:
      if p.poll() is None:
        p.kill()
      log.close()
      logs.append(open(log.name).read())
  return logs


def _rows(workdir) -> dict:
  with open(os.path.join(workdir, "results.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  out = {tuple(r[k] for k in KEY): r for r in rows}
  assert len(out) == len(rows)
  return out


def _embeddings(workdir, regime):
  (path,) = glob.glob(os.path.join(workdir, "embeddings", "synth_bats", "rn18", f"{regime}-*.npz"))
  data = np.load(path, allow_pickle=True)
  return data["embeddings"], [str(i) for i in data["ids"]]


@pytest.mark.slow
def test_two_processes_equal_one_with_kill_and_resume(tmp_path):
  cache = str(tmp_path / "xla")
  single = str(tmp_path / "single" / "work")
  pod = str(tmp_path / "pod" / "work")
  os.makedirs(os.path.dirname(single))
  os.makedirs(os.path.dirname(pod))
  start = time.perf_counter()
  logs = _wait(_launch(single, 1, 4, cache, "single"), 1800)
  single_seconds = time.perf_counter() - start
  assert "Results:" in logs[0], logs[0][-3000:]

  # The pair, until fine-tuning has written a resume point; then process 1 is killed.
  start = time.perf_counter()
  procs = _launch(pod, 2, 2, cache, "killed")
  while not glob.glob(os.path.join(pod, "train", "**", "checkpoints", "1"), recursive=True):
    assert all(p.poll() is None for p, _ in procs), "a process ended before the checkpoint"
    assert time.perf_counter() - start < 1800
    time.sleep(0.5)
  procs[1][0].send_signal(signal.SIGKILL)
  logs = _wait(procs, 300)  # the survivor fails within the heartbeat timeout, never hangs
  assert procs[0][0].returncode != 0, logs[0][-3000:]
  assert not os.path.exists(os.path.join(pod, "results.csv")) or len(_rows(pod)) == 1

  logs = _wait(_launch(pod, 2, 2, cache, "resumed"), 1800)
  pod_seconds = time.perf_counter() - start
  for log in logs:
    assert "Results:" in log, log[-3000:]
  assert "Resuming from" in logs[0] and "unchanged: loading" in logs[0]

  want, got = _rows(single), _rows(pod)
  assert sorted(got) == sorted(want) and len(got) == 2
  for key, row in want.items():
    for metric in METRICS:
      assert got[key][metric] == row[metric], (key, metric, got[key][metric], row[metric])
  for regime in ("frozen", "finetuned"):
    (a, a_ids), (b, b_ids) = _embeddings(single, regime), _embeddings(pod, regime)
    assert a_ids == b_ids
    np.testing.assert_allclose(b, a, atol=1e-5, rtol=0, err_msg=regime)
  print(f"\n1 process x 4 devices: {single_seconds:.0f} s; 2 processes x 2 devices, killed and "
        f"resumed: {pod_seconds:.0f} s")
