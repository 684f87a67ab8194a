"""A run SIGKILLed after a checkpoint and restarted ends exactly where an uninterrupted one does."""

import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np

from bioacoustics_jax.train import loop
from tests.train import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _finished_steps(workdir: str) -> list[int]:
  # Orbax renames a checkpoint to its bare step number only once it is complete.
  path = os.path.join(workdir, "checkpoints")
  names = os.listdir(path) if os.path.isdir(path) else []
  return sorted(int(n) for n in names if re.fullmatch(r"\d+", n))


def _child(workdir: str, delay: float) -> subprocess.Popen:
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.Popen([sys.executable, "-m", "tests.train.kill_child", workdir, str(delay)],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


# ~18 s on a quiet machine (two child processes plus a reference run); kept in the default
# suite because exact resume is the property the whole checkpoint design exists for.
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
  workdir = str(tmp_path / "run")
  child = _child(workdir, delay=0.3)
  deadline = time.time() + 180
  try:
    # Kill mid-epoch 1 (steps 4..7 of 12): resume must replay that epoch's order and skip.
    while not any(s >= 5 for s in _finished_steps(workdir)):
      assert child.poll() is None, child.communicate()[0][-3000:]
      assert time.time() < deadline, "child made no checkpoint in time"
      time.sleep(0.05)
  finally:
    child.send_signal(signal.SIGKILL)
    child.communicate()
  killed_at = max(_finished_steps(workdir))
  assert killed_at < 12, "the child finished before it could be killed; raise its delay"
  resumed = _child(workdir, delay=0.0)
  log = resumed.communicate(timeout=180)[0]
  assert resumed.returncode == 0, log[-3000:]
  got = np.load(os.path.join(workdir, "final.npz"))

  config = tiny.small_config(checkpoint_every_steps=1)
  want, result = loop.fit(tiny.make_task(), config, str(tmp_path / "straight"),
                          learning_rate=1e-2)
  assert result.final_step == 12
  for path, value in jax.tree_util.tree_leaves_with_path(want):
    # Same program, same devices, same data order: bit-identical.
    np.testing.assert_array_equal(got[jax.tree_util.keystr(path)], value,
                                  err_msg=f"{jax.tree_util.keystr(path)} (killed at {killed_at})")
