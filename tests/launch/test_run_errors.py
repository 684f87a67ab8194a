"""launch.run: a user's mistake is one `ERROR:` line (plus at most 3) on the console, with the
traceback in the log; a bug keeps its traceback. The CLI cases spawn the real command."""

import importlib
import os
import subprocess
import sys

import pytest
import soundfile as sf

from launch import user_errors
from tests.data import helpers_audio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = "--config=experiments/configs/quickstart.py:smoke=true"


def test_every_listed_error_is_an_exception_class():
  for module, name in user_errors.USER_ERRORS:
    error = getattr(importlib.import_module(module), name)
    assert isinstance(error, type) and issubclass(error, Exception), (module, name)


def test_a_user_error_is_found_along_the_chain_and_a_bug_is_not():
  from bioacoustics_jax.audio import io as audio_io  # pylint: disable=g-import-not-at-top
  bad = audio_io.AudioError("x.wav", "corrupt", "skip it")
  try:
    try:
      raise bad
    except ValueError as e:
      raise RuntimeError("while preparing the split") from e
  except RuntimeError as e:
    assert user_errors.find(e) is bad
  assert user_errors.find(ValueError("a bug")) is None


def test_lines_keep_at_most_three_under_the_error():
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top
  error = load.MissingWeightsError("\n".join(f"model {i} missing" for i in range(6)))
  lines = user_errors.lines(error, "/w/log.txt")
  assert lines[0] == "ERROR: model 0 missing" and len(lines) == 1 + user_errors.CONTEXT_LINES
  assert lines[-1] == "(details and traceback: /w/log.txt)" and "4 more lines" in lines[-2]


def _run(args, tmp_path, timeout=900):
  done = subprocess.run([sys.executable, "-m", "launch.run", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=timeout,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  console = (done.stdout + done.stderr).splitlines()
  return done.returncode, console


def _log_named(console):
  """The log file the last line names, read."""
  path = console[-1].rpartition(": ")[2].rstrip(")")
  return path, open(path).read()


def test_misspelled_key_is_one_line_with_the_nearest_keys(tmp_path):
  code, console = _run([QUICKSTART, f"--workdir={tmp_path / 'w'}",
                        "--config.train.num_epoch=3"], tmp_path)
  assert code == 2 and len(console) == 2, console  # no usage text, no traceback
  assert console[0].startswith("ERROR: command line: unknown key 'train.num_epoch'")
  assert "nearest keys: train.num_epochs" in console[0]
  path, log = _log_named(console)
  os.remove(path)
  assert "Traceback" in log and "ConfigLoadError" in log
  assert not (tmp_path / "w").exists()


def test_a_stray_argument_is_one_line(tmp_path):
  code, console = _run([QUICKSTART, f"--workdir={tmp_path / 'w'}", "smoke=true"], tmp_path)
  assert code == 2 and console == [
      "ERROR: unexpected arguments ['smoke=true']; options are --name=value (--help lists them)"]


def test_help_with_a_config_exits_0():
  code, console = _run([QUICKSTART, "--help"], None)
  assert code == 0 and any("smoke = " in line for line in console)


@pytest.mark.slow
def test_missing_weights_file_is_one_line_naming_the_download(tmp_path):
  code, console = _run([QUICKSTART + ",models=rn18p", f"--workdir={tmp_path / 'w'}",
                        f"--config.weights_dir={tmp_path / 'weights'}"], tmp_path)
  errors = [i for i, line in enumerate(console) if line.startswith("ERROR:")]
  assert code == 2 and len(errors) == 1, console
  assert len(console) - errors[0] <= 1 + user_errors.CONTEXT_LINES
  assert len(console) <= 2 + user_errors.CONTEXT_LINES, console  # the run's first line + these
  assert "python -m bioacoustics_jax.zoo --download=rn18p" in console[errors[0]]
  assert not any("Traceback" in line for line in console)
  path, log = _log_named(console)
  os.remove(path)
  assert "Traceback" in log and "MissingWeightsError" in log


@pytest.mark.slow
def test_corrupt_wav_is_one_line_with_the_fix_in_the_syntax_typed(tmp_path):
  root = tmp_path / "birds"
  for label, freq in (("a", 300), ("b", 900)):
    os.makedirs(root / label)
    for i in range(4):
      sf.write(root / label / f"{i}.wav", helpers_audio.tone(8000, 0.5, freq + 40 * i, i), 8000)
  helpers_audio.write_bad(str(root / "b" / "bad.wav"), "corrupt", 8000)
  code, console = _run([f"--config=experiments/configs/own_data.py:root={root},smoke=true",
                        f"--workdir={tmp_path / 'w'}"], tmp_path)
  errors = [i for i, line in enumerate(console) if line.startswith("ERROR:")]
  assert code == 2 and len(errors) == 1, console
  assert len(console) - errors[0] <= 1 + user_errors.CONTEXT_LINES, console
  assert "bad.wav" in console[errors[0]]
  assert "set `:skip_bad_audio=true` in --config" in console[errors[0]]
  assert not any("Traceback" in line for line in console)
  path, log = _log_named(console)
  assert path.startswith(str(tmp_path / "w" / "runs")) and "AudioError" in log
