"""launch/tpu/launcher.py against a fake `gcloud` on PATH: the commands it issues, the runtime
version per accelerator family, the exit code when one worker fails, the shipped commit, and
a preempted spot slice re-created and its command re-run."""

import json
import os
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Logs every call (one JSON list per line), answers describe/ssh/scp like gcloud would.
FAKE_GCLOUD = r'''#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
state = os.environ["FAKE_DIR"]
with open(os.path.join(state, "calls.jsonl"), "a") as f:
  f.write(json.dumps(args) + "\n")
def count(name):
  path = os.path.join(state, name)
  n = int(open(path).read()) if os.path.exists(path) else 0
  open(path, "w").write(str(n + 1))
  return n
if "describe" in args and "queued-resources" in args:
  print("ACTIVE"); sys.exit(0)
if "describe" in args and "--format=json" in args:
  print(json.dumps({"state": "READY", "networkEndpoints": [{}] * int(os.environ["FAKE_WORKERS"])}))
  sys.exit(0)
if "describe" in args:
  states = os.environ.get("FAKE_STATES", "READY").split(",")
  print(states[min(count("describe_state"), len(states) - 1)]); sys.exit(0)
if "scp" in args:
  shutil.copy(args[args.index("scp") + 1], os.path.join(state, "shipped.tgz")); sys.exit(0)
if "ssh" in args and any(a.startswith("--worker=") and a != "--worker=all" for a in args):
  worker = next(a for a in args if a.startswith("--worker=")).split("=")[1]
  attempt = count("ssh_" + worker)
  fail = os.environ.get("FAKE_FAIL", "")  # "worker:attempt,..."
  sys.exit(7 if f"{worker}:{attempt}" in fail.split(",") else 0)
sys.exit(0)
'''


@pytest.fixture
def fake(tmp_path):
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  gcloud = bin_dir / "gcloud"
  gcloud.write_text(FAKE_GCLOUD)
  gcloud.chmod(0o755)
  env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_DIR=str(tmp_path),
             FAKE_WORKERS="2", BIOACOUSTICS_TPU_STATE_DIR=str(tmp_path / "state"),
             BIOACOUSTICS_TPU_POLL_SECONDS="0")

  def launch(*args, **env_changes):
    done = subprocess.run([sys.executable, "-m", "launch.tpu.launcher", *args], cwd=ROOT,
                          env=dict(env, **env_changes), capture_output=True, text=True,
                          timeout=120)
    calls_path = tmp_path / "calls.jsonl"
    calls = [json.loads(line) for line in calls_path.read_text().splitlines()] \
        if calls_path.exists() else []
    calls_path.unlink(missing_ok=True)
    return done, calls

  return launch, tmp_path


COMMAND = ["--", "python", "-m", "launch.run", "--config=experiments/configs/quickstart.py",
           "--workdir=gs://bucket/run"]


def test_runtime_version_per_family_and_dry_run_calls_nothing(fake):
  launch, _ = fake
  for accelerator, version in [("v4-8", "tpu-ubuntu2204-base"),
                               ("v5litepod-16", "v2-alpha-tpuv5-lite"),
                               ("v5e-8", "v2-alpha-tpuv5-lite"), ("v5p-32", "v2-alpha-tpuv5"),
                               ("v6e-8", "v2-alpha-tpuv6e")]:
    done, calls = launch("create", "--name=t", "--zone=z", f"--accelerator={accelerator}",
                         "--spot", "--dry_run")
    assert done.returncode == 0, done.stderr
    assert calls == []  # a dry run prints, never runs
    assert (f"DRY RUN: gcloud compute tpus tpu-vm create t --accelerator-type={accelerator} "
            f"--version={version} --spot --zone=z") in done.stdout
  done, calls = launch("create", "--name=t", "--zone=z", "--accelerator=v6e-8", "--queued",
                       "--dry_run")
  assert "queued-resources create t --node-id=t --accelerator-type=v6e-8 " \
         "--runtime-version=v2-alpha-tpuv6e" in done.stdout
  done, _ = launch("create", "--name=t", "--zone=z", "--accelerator=v9-8", "--dry_run")
  assert done.returncode == 1 and "Unknown accelerator type 'v9-8'" in done.stderr
  done, calls = launch("run", "--name=t", "--zone=z", "--dry_run", "--workers=2", *COMMAND)
  assert done.returncode == 0 and calls == []
  assert done.stdout.count("tpu-vm ssh t --worker=") == 2


def test_one_failing_worker_fails_the_run(fake):
  launch, _ = fake
  done, calls = launch("run", "--name=t", "--zone=z", "--restarts=2", *COMMAND, FAKE_FAIL="1:0")
  assert done.returncode == 1, done.stderr
  assert "Worker(s) [1] failed with exit code(s) {1: 7}" in done.stderr
  ssh = [c for c in calls if "ssh" in c]
  assert sorted(next(a for a in c if a.startswith("--worker=")) for c in ssh) == [
      "--worker=0", "--worker=1"]  # READY slice: a real failure, not retried
  script = next(a for a in ssh[0] if a.startswith("--command="))
  assert script.startswith("--command=set -o pipefail;") and "BIOACOUSTICS_TPU_POD=1" in script
  assert "python -m launch.run --config=experiments/configs/quickstart.py " \
         "--workdir=gs://bucket/run 2>&1 | tee -a ~/run.log" in script
  done, _ = launch("run", "--name=t", "--zone=z", *COMMAND)
  assert done.returncode == 0, done.stderr


def test_setup_ships_the_commit_and_a_python_311_env(fake):
  launch, tmp_path = fake
  done, calls = launch("setup", "--name=t", "--zone=z")
  assert done.returncode == 0, done.stderr
  head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                        text=True, check=True).stdout.strip()
  with tarfile.open(tmp_path / "shipped.tgz") as tar:
    names = tar.getnames()
    commit = tar.extractfile("./COMMIT").read().decode().split()
  assert commit[0] == head
  assert "./launch/tpu/launcher.py" in names and not any("/.git/" in n for n in names)
  (ssh,) = [c for c in calls if "ssh" in c]
  script = next(a for a in ssh if a.startswith("--command="))
  assert "uv venv --seed --python 3.11 .venv" in script and "jax[tpu]==" in script
  assert "--worker=all" in ssh


def test_preempted_spot_slice_is_recreated_and_resumed(fake):
  launch, _ = fake
  done, calls = launch("create", "--name=t", "--zone=z", "--accelerator=v5litepod-16", "--spot",
                       "--queued")
  assert done.returncode == 0, done.stderr
  assert [c[:4] for c in calls] == [["compute", "tpus", "queued-resources", "create"],
                                    ["compute", "tpus", "queued-resources", "describe"]]
  # First attempt: worker 0 dies and the slice reports PREEMPTED; the second attempt succeeds.
  done, calls = launch("run", "--name=t", "--zone=z", "--restarts=1", *COMMAND,
                       FAKE_FAIL="0:0", FAKE_STATES="PREEMPTED,READY")
  assert done.returncode == 0, done.stderr
  verbs = [" ".join(c[2:4]) for c in calls]
  delete_at = verbs.index("queued-resources delete")
  assert "queued-resources create" in verbs[delete_at:]
  assert any("--spot" in c for c in calls if c[2:4] == ["queued-resources", "create"])
  assert "tpu-vm scp" in verbs[delete_at:]  # set up again before the re-run
  assert sum(1 for c in calls if "ssh" in c and "--worker=0" in c) == 2
  assert "preempted: re-creating it and resuming" in done.stderr
