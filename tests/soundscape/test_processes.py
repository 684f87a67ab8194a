"""Real processes: a SIGKILLed archive run resumes to the uninterrupted store, and 2 processes
x 2 CPU devices (jax.distributed over localhost) write the store one process writes."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bioacoustics_jax.soundscape import archive
from bioacoustics_jax.soundscape import planted
from tests.soundscape.helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
  root = tmp_path_factory.mktemp("archive")
  planted.write_archive(str(root), recordings=8, seconds=2.0, calls_per_recording=1)
  return root


@pytest.fixture(scope="module")
def uninterrupted(audio, tmp_path_factory):
  return archive.embed_archive(tiny_config(audio), str(tmp_path_factory.mktemp("w"))
                               ).load_arrays()


def _same_store(got, want):
  assert got["recording"].tolist() == want["recording"].tolist()
  np.testing.assert_array_equal(got["start"], want["start"])
  np.testing.assert_array_equal(got["end"], want["end"])
  # 2 devices there, 8 here: the same rows, batched differently (float32 rounding only)
  np.testing.assert_allclose(got["embedding"], want["embedding"], rtol=1e-5, atol=1e-6)


def _shards(workdir):
  folder = os.path.join(workdir, "shards")
  return [n for n in os.listdir(folder) if n.endswith(".npz")] if os.path.isdir(folder) else []


def _child(audio, workdir, delay):
  return subprocess.Popen(
      [sys.executable, "-m", "tests.soundscape.kill_child", str(audio), workdir, str(delay)],
      cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, XLA_FLAGS=""), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True)


# 75 s here (2 cores shared by 8 helpers): two child processes, each compiling the model.
@pytest.mark.slow
def test_sigkill_mid_archive_then_resume_gives_the_uninterrupted_store(audio, uninterrupted,
                                                                        tmp_path):
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / "w")
  child = _child(audio, workdir, delay=1.0)
  deadline = time.time() + 300
  try:
    while len(_shards(workdir)) < 2:
      assert child.poll() is None, child.communicate()[0][-3000:]
      assert time.time() < deadline, "the child committed no shard in time"
      time.sleep(0.05)
  finally:
    child.send_signal(signal.SIGKILL)
    child.communicate()
  killed = set(_shards(workdir))
  assert 2 <= len(killed) < 8, "the child finished before it could be killed; raise its delay"
  resumed = _child(audio, workdir, delay=0.0)
  log = resumed.communicate(timeout=300)[0]
  assert resumed.returncode == 0, log[-3000:]
  store = store_lib.Store.open(workdir)
  assert killed <= set(store.manifest["shards"])  # what was committed before the kill is kept
  redone = [r for s in set(store.manifest["shards"]) - killed
            for r in store.manifest["shards"][s]["recordings"]]
  before = [r for s in killed for r in store.manifest["shards"][s]["recordings"]]
  assert sorted(before + redone) == [f"rec{i:03d}.wav" for i in range(8)]  # none twice, none lost
  assert store.num_windows() == 16
  _same_store(store.load_arrays(), uninterrupted)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


# 87 s here (2 cores shared by 8 helpers): two processes joining over jax.distributed.
@pytest.mark.slow
def test_two_processes_write_the_store_one_process_writes(audio, uninterrupted, tmp_path):
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  workdir, port = str(tmp_path / "w"), _free_port()
  command = [sys.executable, "-m", "launch.embed",
             f"--config=experiments/configs/archive.py:root={audio},model=rn18,window_seconds=1,"
             "smoke=true,batch_size=4", f"--workdir={workdir}", "--config.archive.shard_rows=1"]
  procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(
                                os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                                JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(pid),
                                XLA_FLAGS="--xla_force_host_platform_device_count=2",
                                JAX_PLATFORMS="cpu", PYTHONPATH=ROOT))
           for pid in range(2)]
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=600)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-4000:]
  store = store_lib.Store.open(workdir)
  writers = {s.rsplit("-p", 1)[1] for s in store.manifest["shards"]}
  assert writers == {"0000.npz", "0001.npz"}  # both processes embedded their share
  _same_store(store.load_arrays(), uninterrupted)
