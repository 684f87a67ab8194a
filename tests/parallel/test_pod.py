"""Two real processes x 2 CPU devices (jax.distributed over localhost) check the multi-host
pieces together (tests/parallel/pod_child.py): bad set-ups fail on every process, extraction
from process-local batches equals one process's (same ids, same order, padding dropped), the
train step and extraction run under jax.transfer_guard("disallow"), both checkpoint managers
save the same step asynchronously and every process restores. A coordinator that never answers
fails within the bounded timeout."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np

from bioacoustics_jax.embed import extract as extract_lib
from tests.parallel import pod_child
from tests.train import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(port, pid, **extra):
  return dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
              JAX_PROCESS_ID=str(pid), XLA_FLAGS="--xla_force_host_platform_device_count=2",
              JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, **extra)


def test_two_processes_extract_train_and_checkpoint_like_one(tmp_path):
  shared = tmp_path / "shared"
  shared.mkdir()
  port = _free_port()
  procs = []
  for pid in range(2):
    private = tmp_path / f"private{pid}"
    private.mkdir()
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "tests.parallel.pod_child", str(shared), str(private)], cwd=ROOT,
        env=_env(port, pid), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=900)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-4000:]
  got = np.load(shared / "results.npz")

  # The same extraction in this (single) process, over the whole split in its order.
  module = tiny.TinyCNN()
  prepare = lambda audio, rate: jax.numpy.log1p(jax.numpy.abs(  # noqa: E731
      audio.reshape(audio.shape[0], 4, -1)))[..., None]
  variables = module.init(jax.random.key(0),
                          prepare(np.zeros((1, pod_child.SAMPLES), np.float32), 0))
  fn, _ = extract_lib.make_embed_fn(module, prepare, 0)
  want = extract_lib.extract(fn, extract_lib.place_variables(jax.device_get(variables)),
                             pod_child.split_batches(0, 1, 8), task="classification",
                             class_names=["a", "b", "c"])
  assert list(got["ids"]) == want.ids == [f"example_{j:02d}" for j in range(11)]
  np.testing.assert_allclose(got["embeddings"], want.embeddings, atol=1e-6, rtol=0)
  np.testing.assert_array_equal(got["labels"], want.labels)
  for mode in ("shard_map", "pmap"):
    assert np.isfinite(got[f"{mode}/loss"])
  np.testing.assert_allclose(got["shard_map/loss"], got["pmap/loss"], rtol=1e-5)


def test_a_coordinator_that_never_answers_fails_within_the_timeout():
  done = subprocess.run(
      [sys.executable, "-c", "from bioacoustics_jax.parallel import distributed; "
       "distributed.maybe_initialize()"], cwd=ROOT, capture_output=True, text=True, timeout=300,
      env=_env(_free_port(), 1, BIOACOUSTICS_COORDINATOR_TIMEOUT="3"))
  assert done.returncode != 0
  assert "did not connect to the coordinator at 127.0.0.1:" in done.stderr, done.stderr[-3000:]
  assert "BIOACOUSTICS_COORDINATOR_TIMEOUT" in done.stderr
