"""SIGTERM on one host of two (jax.distributed over localhost, 2 CPU devices each): both hosts
stop at the same step and checkpoint it (exit 143), and the relaunched pair resumes to exactly
the uninterrupted run (tests/parallel/preempt_child.py)."""

import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _pair(phase: str, shared) -> list[tuple[int, str]]:
  port, procs = _free_port(), []
  for pid in range(2):
    with open(shared / f"{phase}.{pid}.log", "w") as log:
      procs.append(subprocess.Popen(
          [sys.executable, "-m", "tests.parallel.preempt_child", phase, str(shared)], cwd=ROOT,
          env=dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                   JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(pid), JAX_PLATFORMS="cpu",
                   XLA_FLAGS="--xla_force_host_platform_device_count=2", PYTHONPATH=ROOT),
          stdout=log, stderr=subprocess.STDOUT))
  try:
    codes = [p.wait(timeout=600) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  return [(code, (shared / f"{phase}.{pid}.log").read_text()) for pid, code in enumerate(codes)]


def _json(path):
  with open(path) as f:
    return json.load(f)


@pytest.mark.slow  # two launches of the pair: ~2.5 min on 2 busy cores
def test_sigterm_on_one_host_stops_both_at_one_step_and_resume_is_exact(tmp_path):
  for code, log in _pair("preempt", tmp_path):
    assert code == 143, log[-4000:]  # both: loop.Preempted, also the host never signalled
  stopped = [_json(tmp_path / f"preempt.{pid}.json")["stopped"] for pid in range(2)]
  assert stopped[0] == stopped[1] and 0 < stopped[0] < 18, stopped
  assert str(stopped[0]) in os.listdir(tmp_path / "run" / "checkpoints")
  for code, log in _pair("resume", tmp_path):
    assert code == 0, log[-4000:]
  for pid in range(2):
    got = _json(tmp_path / f"resume.{pid}.json")
    assert got["final_step"] == got["total_steps"] == 18, got
    assert got["same_history"] and got["max_diff"] == 0.0, got
