"""launch/tpu/launcher.py against a fake `gcloud` on PATH: the commands it issues, the runtime
version and host count per accelerator type, a dry run that shows every worker and what
--restarts would do, the exit code when one worker fails, the shipped commit, and a preempted
spot slice re-created and its command re-run."""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from launch.tpu import slices

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
                               ("v6e-8", "v2-alpha-tpuv6e"),
                               ("v3-8", "tpu-ubuntu2204-base")]:
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


@pytest.mark.parametrize("accelerator,hosts", [
    ("v2-8", 1), ("v3-8", 1), ("v3-32", 4), ("v4-8", 1), ("v4-32", 4), ("v4-2048", 256),
    ("v5p-8", 1), ("v5p-16", 2), ("v5p-128", 16), ("v5litepod-1", 1), ("v5litepod-4", 1),
    ("v5litepod-8", 1), ("v5litepod-16", 4), ("v5e-256", 64), ("v6e-8", 1), ("v6e-16", 4),
    ("v6e-256", 64)])
def test_hosts_per_accelerator_type(accelerator, hosts):
  assert slices.num_hosts(accelerator) == hosts


def test_impossible_sizes_are_refused():
  for bad in ("v4-12", "v5litepod-10", "v4-7"):
    with pytest.raises(slices.AcceleratorError, match="multi-host slice is a multiple of"):
      slices.num_hosts(bad)


def _ssh_workers(stdout):
  return [line.split("--worker=")[1].split()[0] for line in stdout.splitlines()
          if "tpu-vm ssh" in line and "--worker=all" not in line]


def test_dry_run_shows_every_worker_of_the_readme_pod_and_what_restarts_would_do(fake):
  launch, _ = fake
  done, calls = launch("run", "--name=pod", "--zone=z", "--accelerator=v4-32", "--spot",
                       "--queued", "--dry_run", *COMMAND)
  assert done.returncode == 0 and calls == [], done.stderr
  assert _ssh_workers(done.stdout) == ["0", "1", "2", "3"]
  assert "starts on all 4 worker(s)" in done.stdout and "no --restarts" in done.stdout
  assert "finished OK" not in done.stdout + done.stderr  # nothing ran
  done, calls = launch("run", "--name=pod", "--zone=z", "--accelerator=v4-32", "--spot",
                       "--queued", "--restarts=3", "--dry_run", *COMMAND)
  assert done.returncode == 0 and calls == [], done.stderr
  out = done.stdout
  assert "--restarts=3" in out and "up to 3 time(s)" in out and "not retried" in out
  cycle = out[out.index("One such cycle"):]
  assert cycle.index("queued-resources delete pod") < cycle.index(
      "queued-resources create pod --node-id=pod --accelerator-type=v4-32") < cycle.index(
      "tpu-vm scp") < cycle.index("--worker=all")
  assert "--spot" in cycle and _ssh_workers(cycle) == ["0", "1", "2", "3"]


def test_dry_run_uses_the_saved_create_flags_or_says_what_is_missing(fake):
  launch, _ = fake
  done, _ = launch("run", "--name=s", "--zone=z", "--dry_run", *COMMAND)
  assert done.returncode == 1 and "pass --accelerator=TYPE" in done.stderr
  done, _ = launch("create", "--name=s", "--zone=z", "--accelerator=v5litepod-16")
  assert done.returncode == 0 and "v5litepod-16: 4 host(s)" in done.stderr
  done, calls = launch("run", "--name=s", "--zone=z", "--dry_run", *COMMAND)
  assert done.returncode == 0 and calls == [], done.stderr
  assert _ssh_workers(done.stdout) == ["0", "1", "2", "3"]
  done, _ = launch("run", "--name=s", "--zone=z", "--restarts=1", "--dry_run", *COMMAND)
  assert "tpu-vm delete s --quiet" in done.stdout  # saved: not queued
  assert "tpu-vm create s --accelerator-type=v5litepod-16" in done.stdout



def test_the_readme_dry_run_line_shows_the_pod_and_its_restart_cycle(fake):
  """The README's TPU dry-run command, as written there, through run.sh."""
  readme = open(os.path.join(ROOT, "README.md")).read()
  (line,) = [l for l in readme.splitlines() if l.startswith("launch/tpu/run.sh run")
             and "--dry_run" in l]
  launch, tmp_path = fake
  done = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True,
                        timeout=120, env=dict(os.environ, PYTHON=sys.executable,
                                              PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}",
                                              FAKE_DIR=str(tmp_path),
                                              BIOACOUSTICS_TPU_STATE_DIR=str(tmp_path / "s")))
  assert done.returncode == 0, done.stderr
  assert not (tmp_path / "calls.jsonl").exists()  # gcloud never called
  first, cycle = done.stdout.split("One such cycle")
  assert _ssh_workers(first) == _ssh_workers(cycle) == ["0", "1", "2", "3"]
  assert "--accelerator-type=v4-32" in cycle and "--spot" in cycle
