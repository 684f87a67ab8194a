r"""Cloud TPU VM launcher: create, set up, run (on every host), delete. Fails loudly.

    python -m launch.tpu.launcher create --name=N --zone=Z --accelerator=v5litepod-16 [--spot]
                                         [--queued]
    python -m launch.tpu.launcher setup  --name=N --zone=Z
    python -m launch.tpu.launcher run    --name=N --zone=Z [--restarts=3] -- \
        python -m launch.run --config=experiments/configs/quickstart.py --workdir=gs://B/run \
            --config.data.root=/mnt/BUCKET/quickstart_data
    python -m launch.tpu.launcher delete --name=N --zone=Z
    (any verb) --dry_run  prints every gcloud command instead of running it; `run --dry_run`
      prints the command for every worker (their number from the accelerator type, given as
      --accelerator or saved by `create`) and, with --restarts, what a preemption would do

- create: the runtime version comes from the accelerator family (v2, v3, v4, v5e = v5litepod,
  v5p, v6e; `--version` overrides it; launch/tpu/slices.py holds these rules and the host
  count of each type); `--queued` asks through queued resources and waits until the slice is
  ACTIVE; `--spot` makes it a spot (preemptible) slice.
- setup: ships the working tree (no .git, .venv, workdir) with a COMMIT file holding the commit
  (and "dirty" if the tree has uncommitted changes; run.json records it), then on every host
  makes a Python >= 3.11 environment (uv installs one when the image's python3 is older) and
  installs requirements.txt plus jax[tpu].
- run: starts the same command on every worker at once (one ssh per worker; multi-host slices
  get BIOACOUSTICS_TPU_POD=1, so launch.run joins jax.distributed first), each worker logging to
  ~/run.log; exits non-zero, naming the workers, when ANY worker fails. `--restarts=K`: when the
  slice was preempted (its state is no longer READY/ACTIVE), it is re-created (same flags as
  `create`, saved at create time in ~/.cache/bioacoustics_jax/tpu/<name>.json), set up again,
  and the same command re-run: experiments resume from the checkpoints and cell caches in the
  (gs://) workdir.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

from launch.tpu import slices

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAX_TPU = "jax[tpu]==0.10.2"
MIN_PYTHON = (3, 11)
STATE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "bioacoustics_jax", "tpu")
EXCLUDE = (".git", ".venv", "workdir", "__pycache__", ".pytest_cache")

HEALTHY = ("READY", "ACTIVE")


class LaunchError(RuntimeError):
  pass


class Gcloud:
  """Runs (or, with dry_run, prints) gcloud commands; every command is echoed to stderr."""

  def __init__(self, zone: str, project: str | None, dry_run: bool):
    self.zone, self.project, self.dry_run = zone, project, dry_run

  def command(self, *args: str) -> list[str]:
    cmd = ["gcloud", *args, f"--zone={self.zone}"]
    return cmd + ([f"--project={self.project}"] if self.project else [])

  def run(self, *args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    cmd = self.command(*args)
    print(("DRY RUN: " if self.dry_run else "+ ") + shlex.join(cmd),
          file=sys.stdout if self.dry_run else sys.stderr, flush=True)
    if self.dry_run:
      return subprocess.CompletedProcess(cmd, 0, stdout="", stderr="")
    done = subprocess.run(cmd, text=True, capture_output=capture)
    if check and done.returncode:
      raise LaunchError(f"gcloud failed with exit code {done.returncode}: {shlex.join(cmd)}\n"
                        f"{(done.stderr or '')[-2000:]}")
    return done


def create(g: Gcloud, name: str, accelerator: str, version: str | None, spot: bool,
           queued: bool, wait_seconds: float = 3600) -> None:
  version = version or slices.runtime_version(accelerator)
  try:
    print(f"{accelerator}: {slices.num_hosts(accelerator)} host(s)", file=sys.stderr)
  except slices.AcceleratorError:  # a type without a host rule, created with --version
    pass
  _save_state(name, dict(zone=g.zone, project=g.project, accelerator=accelerator,
                         version=version, spot=spot, queued=queued), g.dry_run)
  if queued:
    g.run("compute", "tpus", "queued-resources", "create", name, f"--node-id={name}",
          f"--accelerator-type={accelerator}", f"--runtime-version={version}",
          *(["--spot"] if spot else []))
    deadline = time.monotonic() + wait_seconds
    while not g.dry_run:
      state = g.run("compute", "tpus", "queued-resources", "describe", name,
                    "--format=value(state.state)", capture=True).stdout.strip()
      if state == "ACTIVE":
        break
      if state in ("FAILED", "SUSPENDED"):
        raise LaunchError(f"Queued resource {name} is {state}; see `gcloud compute tpus "
                          f"queued-resources describe {name} --zone={g.zone}`.")
      if time.monotonic() > deadline:
        raise LaunchError(f"Queued resource {name} not ACTIVE after {wait_seconds:.0f} s "
                          f"(state {state or 'unknown'}).")
      time.sleep(float(os.environ.get("BIOACOUSTICS_TPU_POLL_SECONDS", "30")))
  else:
    g.run("compute", "tpus", "tpu-vm", "create", name, f"--accelerator-type={accelerator}",
          f"--version={version}", *(["--spot"] if spot else []))


def delete(g: Gcloud, name: str, queued: bool | None = None) -> None:
  if queued if queued is not None else _load_state(name).get("queued"):
    g.run("compute", "tpus", "queued-resources", "delete", name, "--force", "--quiet")
  else:
    g.run("compute", "tpus", "tpu-vm", "delete", name, "--quiet")


def commit_line(root: str = ROOT) -> str:
  """'<sha>' or '<sha> dirty' of the checkout at `root` (what the COMMIT file holds)."""
  def git(*args):
    return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                          check=True).stdout.strip()
  try:
    sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
  except (OSError, subprocess.CalledProcessError) as e:
    raise LaunchError(f"{root} is not a git checkout ({e}); the launcher ships the code with "
                      "its commit so every run.json can name it.") from e
  return sha + (" dirty" if dirty else "")


def make_tarball(out_path: str, root: str = ROOT) -> str:
  """The working tree (minus EXCLUDE) plus COMMIT, as a .tgz; returns the commit line."""
  line = commit_line(root)
  with tarfile.open(out_path, "w:gz") as tar:
    tar.add(root, arcname=".", filter=lambda info: None if any(
        part in EXCLUDE for part in info.name.split("/")) else info)
    with tempfile.NamedTemporaryFile("w", suffix=".commit", delete=False) as f:
      f.write(line + "\n")
    tar.add(f.name, arcname="./COMMIT")
    os.unlink(f.name)
  return line


def remote_setup_script() -> str:
  """Shell run on every host: unpack, a Python >= 3.11 venv, the requirements and jax[tpu]."""
  want = ".".join(map(str, MIN_PYTHON))
  return " && ".join([
      "set -euo pipefail",
      "mkdir -p ~/bioacoustics_jax",
      "tar -xzf ~/bioacoustics_jax.tgz -C ~/bioacoustics_jax",
      "cd ~/bioacoustics_jax",
      # The image's python3 may be older than the project's minimum: uv brings its own.
      f"if python3 -c 'import sys; sys.exit(sys.version_info < {MIN_PYTHON})'; then "
      "python3 -m venv .venv; else "
      "(command -v uv || curl -LsSf https://astral.sh/uv/install.sh | sh) && "
      f"~/.local/bin/uv venv --seed --python {want} .venv; fi",
      f".venv/bin/python -c 'import sys; assert sys.version_info >= {MIN_PYTHON}, sys.version'",
      ".venv/bin/pip install -q -r requirements.txt",
      f".venv/bin/pip install -q '{JAX_TPU}'",
      "cat COMMIT",
  ])


def setup(g: Gcloud, name: str) -> str:
  tgz = os.path.join(tempfile.gettempdir(), f"bioacoustics_jax-{name}.tgz")
  line = make_tarball(tgz) if not g.dry_run else commit_line()
  print(f"Shipping commit {line}", file=sys.stderr)
  g.run("compute", "tpus", "tpu-vm", "scp", tgz, f"{name}:~/bioacoustics_jax.tgz", "--worker=all")
  g.run("compute", "tpus", "tpu-vm", "ssh", name, "--worker=all",
        f"--command={remote_setup_script()}")
  return line


def num_workers(g: Gcloud, name: str) -> int:
  """The hosts the live slice reports."""
  info = json.loads(g.run("compute", "tpus", "tpu-vm", "describe", name, "--format=json",
                          capture=True).stdout or "{}")
  endpoints = info.get("networkEndpoints") or []
  if not endpoints:
    raise LaunchError(f"{name} reports no workers (state {info.get('state')}); is it READY?")
  return len(endpoints)


def node_state(g: Gcloud, name: str) -> str:
  if g.dry_run:
    return "READY"
  done = g.run("compute", "tpus", "tpu-vm", "describe", name, "--format=value(state)",
               capture=True, check=False)
  return done.stdout.strip() if done.returncode == 0 else "NOT_FOUND"


def remote_run_script(command: list[str], workers: int) -> str:
  env = "BIOACOUSTICS_TPU_POD=1 " if workers > 1 else ""
  return ("set -o pipefail; cd ~/bioacoustics_jax && "
          f"{env}PATH=$PWD/.venv/bin:$PATH {shlex.join(command)} 2>&1 | tee -a ~/run.log")


def run_once(g: Gcloud, name: str, command: list[str], workers: int) -> dict[int, int]:
  """Runs `command` on every worker at once; returns {worker: exit code}."""
  script = remote_run_script(command, workers)
  if g.dry_run:  # printed in worker order (threads would interleave the lines)
    return {w: g.run("compute", "tpus", "tpu-vm", "ssh", name, f"--worker={w}",
                     f"--command={script}", check=False).returncode for w in range(workers)}
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    futures = {w: pool.submit(g.run, "compute", "tpus", "tpu-vm", "ssh", name, f"--worker={w}",
                              f"--command={script}", check=False) for w in range(workers)}
    return {w: f.result().returncode for w, f in futures.items()}


def dry_run(g: Gcloud, name: str, command: list[str], restarts: int, workers: int | None,
            flags: dict) -> int:
  """Prints what `run` would do: the command on every worker and, with restarts, the
  re-create cycle after a preemption. `flags`: the create flags (saved, or from the command
  line); the worker count is `workers`, else the accelerator type's host count."""
  accelerator = flags.get("accelerator")
  if workers is None and not accelerator:
    raise LaunchError(f"run --dry_run: {name} has no saved create flags here; pass "
                      "--accelerator=TYPE (e.g. v4-32) so the dry run can show every worker.")
  n = workers or slices.num_hosts(accelerator)
  print(f"DRY RUN: {name} ({accelerator or 'given --workers'}): the command starts on all "
        f"{n} worker(s) at once:")
  run_once(g, name, command, n)
  if not restarts:
    print("DRY RUN: no --restarts: any failing worker ends the run with exit code 1, naming "
          "the workers.")
    return 0
  if not accelerator:
    raise LaunchError("run --dry_run --restarts: pass --accelerator=TYPE too (the re-created "
                      "slice's type).")
  print(f"DRY RUN: --restarts={restarts}: when a worker fails and {name} is then not "
        f"{'/'.join(HEALTHY)} (preempted), up to {restarts} time(s): delete it, create it "
        "again with the same flags, set it up, and run the command again on every worker "
        "(experiments resume from the workdir's checkpoints and caches). A failure on a "
        "healthy slice is not retried. One such cycle:")
  delete(g, name, queued=flags.get("queued", False))
  create(g, name, accelerator, flags.get("version"), flags.get("spot", False),
         flags.get("queued", False))
  setup(g, name)
  run_once(g, name, command, n)
  return 0


def run(g: Gcloud, name: str, command: list[str], restarts: int,
        workers: int | None = None, flags: dict | None = None) -> int:
  if not command:
    raise LaunchError("run needs the command after --, e.g. -- python -m launch.run ...")
  if g.dry_run:
    return dry_run(g, name, command, restarts, workers, {**_load_state(name), **(flags or {})})
  for attempt in range(restarts + 1):
    n = num_workers(g, name)
    codes = run_once(g, name, command, n)
    failed = {w: c for w, c in codes.items() if c}
    if not failed:
      print(f"All {n} worker(s) finished OK.", file=sys.stderr)
      return 0
    state = node_state(g, name)
    print(f"Worker(s) {sorted(failed)} failed with exit code(s) {failed} (attempt "
          f"{attempt + 1}/{restarts + 1}); slice state {state}.", file=sys.stderr)
    if state in HEALTHY or attempt == restarts:
      break  # a real failure (not a preemption), or no restarts left: fail loudly
    saved = _load_state(name)
    if not saved:
      print(f"No saved create flags for {name}; cannot re-create it.", file=sys.stderr)
      break
    print(f"{name} was preempted: re-creating it and resuming.", file=sys.stderr)
    delete(g, name)
    create(g, name, saved["accelerator"], saved["version"], saved["spot"], saved["queued"])
    setup(g, name)
  return 1


def _state_path(name: str) -> str:
  return os.path.join(os.environ.get("BIOACOUSTICS_TPU_STATE_DIR", STATE_DIR), f"{name}.json")


def _save_state(name: str, state: dict, dry_run: bool) -> None:
  if dry_run:
    return
  os.makedirs(os.path.dirname(_state_path(name)), exist_ok=True)
  with open(_state_path(name), "w") as f:
    json.dump(state, f)


def _load_state(name: str) -> dict:
  try:
    with open(_state_path(name)) as f:
      return json.load(f)
  except FileNotFoundError:
    return {}


def main(argv: list[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  command: list[str] = []
  if "--" in argv:
    command = argv[argv.index("--") + 1:]
    argv = argv[:argv.index("--")]
  parser = argparse.ArgumentParser(prog="python -m launch.tpu.launcher",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("verb", choices=("create", "setup", "run", "delete"))
  parser.add_argument("--name", required=True)
  parser.add_argument("--zone", required=True)
  parser.add_argument("--project", default=None)
  parser.add_argument("--accelerator", default=None,
                      help="e.g. v4-8, v5litepod-16, v6e-8 (run --dry_run: the slice's type)")
  parser.add_argument("--version", default=None, help="runtime version (default: per family)")
  parser.add_argument("--spot", action="store_true", help="a spot (preemptible) slice")
  parser.add_argument("--queued", action="store_true", help="create through queued resources")
  parser.add_argument("--restarts", type=int, default=0,
                      help="run: re-create + resume this many times after a preemption")
  parser.add_argument("--workers", type=int, default=None,
                      help="run --dry_run: worker count (default: from the accelerator type)")
  parser.add_argument("--dry_run", action="store_true", help="print gcloud commands only")
  args = parser.parse_args(argv)
  g = Gcloud(args.zone, args.project, args.dry_run)
  try:
    if args.verb == "create":
      if not args.accelerator:
        raise LaunchError("create needs --accelerator (e.g. v5litepod-16).")
      create(g, args.name, args.accelerator, args.version, args.spot, args.queued)
    elif args.verb == "setup":
      setup(g, args.name)
    elif args.verb == "run":
      given = dict(accelerator=args.accelerator, version=args.version,
                   spot=args.spot or None, queued=args.queued or None)
      return run(g, args.name, command, args.restarts, args.workers,
                 {k: v for k, v in given.items() if v is not None})
    else:
      delete(g, args.name)
  except (LaunchError, slices.AcceleratorError) as e:
    print(f"ERROR: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
