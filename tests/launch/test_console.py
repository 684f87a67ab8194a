"""The console shows marked lines and the suite's own warnings; log.txt gets every line."""

import logging
import os
import warnings

import pytest

from bioacoustics_jax import console

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _record(level, pathname, msg="m", name="absl", args=(), **extra):
  record = logging.LogRecord(name, level, pathname, 1, msg, args, None)
  record.__dict__.update(extra)
  return record


OWN = os.path.join(ROOT, "bioacoustics_jax", "experiment.py")
LIBRARY = "/usr/lib/python3/site-packages/tensorflow_datasets/core/dataset_builder.py"


@pytest.mark.parametrize("level,path,extra,expected", [
    (logging.INFO, OWN, {}, False),  # the suite's INFO: log only
    (logging.INFO, OWN, console.SHOW, True),  # a cell's start and end
    (logging.WARNING, OWN, {}, True),  # the suite's warnings
    (logging.WARNING, OWN, console.LOG_ONLY, False),  # a per-file note
    (logging.WARNING, LIBRARY, {}, False),  # tfds' "Using custom data configuration"
    (logging.INFO, LIBRARY, {}, False),
    (logging.ERROR, LIBRARY, {}, True),  # any error
])
def test_console_rule(level, path, extra, expected):
  assert console.shown(_record(level, path, **extra)) is expected


def test_python_warnings_count_by_where_they_were_raised():
  ours = _record(logging.WARNING, "/usr/lib/python3.11/warnings.py", "%s", "py.warnings",
                 (f"{OWN}:3: UserWarning: x\n",))
  theirs = _record(logging.WARNING, "/usr/lib/python3.11/warnings.py", "%s", "py.warnings",
                   (f"{LIBRARY}:72: DeprecationWarning: FeatureConnector.dtype\n",))
  assert console.shown(ours) and not console.shown(theirs)


def test_setup_routes_lines_and_the_log_waits_for_its_folder(tmp_path, capsys):
  root = logging.getLogger()
  before = (list(root.handlers), root.level)
  run_dir = tmp_path / "runs" / "r1"
  log = console.setup(str(run_dir / "log.txt"))
  try:
    logging.getLogger("tensorflow_datasets").warning("library chatter")
    logging.info("cell starts", extra=console.SHOW)
    root.handle(_record(logging.WARNING, OWN, "own warning"))  # as if logged by experiment.py
    root.handle(_record(logging.WARNING, OWN, "own warning"))  # word for word: shown once
    with warnings.catch_warnings():
      warnings.simplefilter("always")
      warnings.warn_explicit("old API", DeprecationWarning, LIBRARY, 72)
    assert not run_dir.exists()  # nothing written before the run makes its folder
    run_dir.mkdir(parents=True)
    logging.info("after the folder")
  finally:
    path = log.close()
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    logging.captureWarnings(False)
  err = capsys.readouterr().err
  assert err.splitlines() == ["cell starts", "WARNING: own warning"]
  text = open(path).read()
  assert path == str(run_dir / "log.txt")
  for line in ("library chatter", "cell starts", "own warning", "old API", "after the folder"):
    assert line in text, line


def test_log_of_a_run_that_never_made_its_folder_goes_to_the_temporary_folder(tmp_path):
  log = console.LogFile(str(tmp_path / "work" / "runs" / "r2" / "log.txt"))
  log.emit(_record(logging.ERROR, OWN, "stopped early"))
  path = log.close()
  try:
    assert not (tmp_path / "work").exists() and "r2" in os.path.basename(path)
    assert "stopped early" in open(path).read()
  finally:
    os.remove(path)


def test_verbose_shows_every_line(tmp_path, capsys):
  root = logging.getLogger()
  before = (list(root.handlers), root.level)
  log = console.setup(str(tmp_path / "log.txt"), verbose=True)
  try:
    logging.getLogger("orbax").info("checkpoint saved")
  finally:
    log.close()
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    logging.captureWarnings(False)
  assert "checkpoint saved" in capsys.readouterr().err
