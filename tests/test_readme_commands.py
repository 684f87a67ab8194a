"""Every command README.md shows runs, cheaply, or is listed with what it needs that a test
machine lacks (a GPU/TPU, weights, real data, the internet).

The commands are read from README.md itself (its ```bash blocks, `\\`-continued lines and `&&`
chains split, and its inline `python -m ...` / `make ...` spans), so a command added to the
README is checked without editing this file. How each is checked (`check(command)`):
- listed in NEEDS: it needs something this machine lacks; the reason is the test's record;
- `launch.run`: the same command with `--print_config` instead of `--workdir` (the config loads,
  its `:arg` and every `--config.` override are applied and checked; nothing runs);
- `launch.sweep`: the same command with `--dry_run` (every trial expanded and validated);
- a command whose arguments are the README's placeholders (PATH, W, clip.wav, workdir/...):
  `--help` (and a README command with `--help`): every flag the README uses must be one the
  entry point defines;
- anything else: as written.
The fast test checks that every command gets a check; the slow one runs them (one process each).
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# What a README command needs that a test machine lacks: (pattern, reason).
NEEDS = (
    (r"^make (demo|test)\b", "builds the shared .venv first (`make setup`); the demo's run is "
     "tests/test_quickstart_e2e.py's quickstart config, smaller"),
    (r"--download=", "the internet (the presets' URLs); tests/zoo/test_download.py runs the "
     "download against a local HTTP server"),
    (r"zoo --model=", "a pretrained weights file (rn18p's .pth)"),
    (r"^launch/tpu/run\.sh", "a Cloud TPU (gcloud); tests/launch/test_tpu_launcher.py runs the "
     "README's dry-run line against a fake gcloud"),
    (r"root=/data/beans", "real BEANS data (about 300 GB, BEANS' own download scripts)"),
    (r"\btensorboard\b", "a finished run's workdir and a browser (serves until stopped)"),
    (r"launch\.sweep --workdir=\S+ --status", "a sweep that has started (its sweep.json); "
     "tests/launch/test_sweep.py checks --status on one"),
    (r"--config=\.\.\.|\s\.\.\.\s", "a placeholder for the command above (`...`)"),
)
PLACEHOLDERS = re.compile(r"=PATH\b|=W\b|clip\.wav|--workdir=workdir/quickstart|"
                          r"workdir/sweep/runs/\*")


def _bash_blocks(text: str) -> list[str]:
  out = []
  for block in re.findall(r"```bash\n(.*?)```", text, re.S):
    joined = re.sub(r"\\\n\s*", " ", block)
    for line in joined.splitlines():
      line = re.sub(r"(^|\s)#.*$", "", line).strip()  # comments
      out += [part.strip() for part in line.split(" && ") if part.strip()]
  return out


def _inline(text: str) -> list[str]:
  spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
  spans = [" ".join(s.split()) for s in spans]
  return [s for s in spans if re.match(r"(\.venv/bin/)?python -m |make (demo|test)\b", s)]


def readme_commands() -> list[str]:
  text = README.read_text()
  return list(dict.fromkeys(_bash_blocks(text) + _inline(text)))


def _need(command: str) -> str:
  return next((why for pattern, why in NEEDS if re.search(pattern, command)), "")


def check(command: str, workdir: str) -> tuple[list[str], str]:
  """(the argv that checks `command`, "help" | "run"), or ([], reason) when it needs what a
  test machine lacks."""
  need = _need(command)
  if need:
    return [], need
  words = shlex.split(re.sub(r"\s\[[^\]]*\]", "", command))  # [optional] parts left out
  if words[0].endswith("python"):
    words[0] = sys.executable
  module = words[2] if words[1:2] == ["-m"] else ""
  if PLACEHOLDERS.search(command):
    return words[:3] + ["--help"], "help"
  if "--help" in words:
    return words, "help"
  if module == "launch.run":
    return [w for w in words if not w.startswith("--workdir=") and w != "--print_config"
            ] + ["--print_config"], "run"
  if module == "launch.sweep":
    words = [f"--workdir={workdir}" if w.startswith("--workdir=") else w for w in words]
    return words + ([] if "--dry_run" in words or "--status" in words else ["--dry_run"]), "run"
  return words, "run"


def _flags(command: str) -> list[str]:
  return sorted({m for m in re.findall(r"\s--([a-z_]+)(?==|\s|$)", command)} - {"help"})


def test_every_readme_command_is_checked_or_says_what_it_needs(tmp_path):
  commands = readme_commands()
  # The README's sections each show commands: the demo, runs, sweeps, soundscapes, weights, TPU.
  for expected in ("make demo", "-m launch.run", "-m launch.sweep", "-m launch.embed",
                   "-m bioacoustics_jax.zoo --download=", "launch/tpu/run.sh",
                   "-m bioacoustics_jax.report --workdir="):
    assert any(expected in c for c in commands), (expected, commands)
  checked = {c: check(c, str(tmp_path)) for c in commands}
  # The quickstart run, the sweep's dry run and the weights list run here as the README has them.
  ran = {c for c, (_, how) in checked.items() if how == "run"}
  for expected in ("-m launch.run --config=experiments/configs/quickstart.py:size=tiny",
                   "-m launch.sweep --config=experiments/configs/quickstart.py:smoke=true",
                   "-m bioacoustics_jax.zoo --list"):
    assert any(expected in c for c in ran), (expected, checked)
  # A --help check stands in for a run only where the arguments are placeholders.
  assert all(PLACEHOLDERS.search(c) or "--help" in c
             for c, (_, how) in checked.items() if how == "help")


@pytest.mark.slow  # one Python process per README command (10-60 s each on 2 cores)
@pytest.mark.parametrize("command", [c for c in readme_commands() if not _need(c)])
def test_readme_command_runs(command, tmp_path):
  argv, how = check(command, str(tmp_path / "sweep"))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
  # From the repository root, as the README runs them (a sweep's workdir goes to tmp_path).
  done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
                        check=False)
  output = done.stdout + done.stderr
  if how == "help":
    # absl's --help exits 1 (issue 27 asks for 0): the check is that the README's flags exist.
    assert done.returncode in (0, 1) and "--help" in output, output[-3000:]
    missing = [f for f in _flags(command) if f"--{f}" not in output]
    assert not missing, (missing, output[-3000:])
  else:
    assert done.returncode == 0, output[-3000:]
