"""Two local processes (jax.distributed on CPU, 2 fake devices each) train together and agree
with one process holding the whole batch, under both runners."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.parallel import test_step_equivalence as equivalence
from tests.train import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_match_single_process(tmp_path):
  out = tmp_path / "state.npz"
  port = _free_port()
  procs = []
  for pid in range(2):
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(pid), XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    procs.append(subprocess.Popen([sys.executable, "-m", "tests.parallel.dist_child", str(out)],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True))
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=240)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-3000:]
  got = np.load(out)
  batch = tiny.random_batch(16, padded=3)
  single, single_loss = equivalence._run("single", batch, 1)  # pylint: disable=protected-access
  for mode in ("shard_map", "pmap"):
    np.testing.assert_allclose(got[f"{mode}/loss"], single_loss[-1], atol=equivalence.ATOL,
                               rtol=equivalence.RTOL)
    for path, want in jax.tree_util.tree_leaves_with_path(single):
      np.testing.assert_allclose(got[f"{mode}{jax.tree_util.keystr(path)}"], want,
                                 atol=equivalence.ATOL, rtol=equivalence.RTOL,
                                 err_msg=f"{mode} {jax.tree_util.keystr(path)}")


def test_maybe_initialize_is_a_no_op_alone_and_names_missing_env(monkeypatch):
  from bioacoustics_jax.parallel import distributed  # pylint: disable=g-import-not-at-top
  for key in ("JAX_NUM_PROCESSES", "JAX_COORDINATOR_ADDRESS", "JAX_PROCESS_ID",
              "BIOACOUSTICS_TPU_POD"):
    monkeypatch.delenv(key, raising=False)
  assert distributed.maybe_initialize() is False
  monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
  with pytest.raises(EnvironmentError, match="JAX_COORDINATOR_ADDRESS"):
    distributed.maybe_initialize()
