"""What a person reads on the console, and the log file that keeps everything else.

A run's console shows, per cell, the line where it starts and the line where it ends, the
progress bar of what is running, warnings of this suite's own code and errors; everything else
(INFO of this suite, and every line of tfds, orbax, JAX, TensorFlow and Python's `warnings`)
goes only to the run's log file, `<workdir>/runs/<run id>/log.txt`:

    logging.info("[%d/%d] %s", i, n, what, extra=console.SHOW)   # also on the console
    logging.warning("...", extra=console.LOG_ONLY)               # a per-file note: log only
    log = console.setup(log_path, verbose=False)                 # launch/run.py, once

`verbose=True` (`-v` on the command line) shows every line on the console as well. The log file
cannot be opened before its run folder exists (a run that stops at a config check leaves no
folder behind), so lines wait in memory until it does; `close()` writes them to a file in the
temporary folder when it never did, and returns where the log went. The same happens for a
gs:// workdir and for the processes other than 0 of a multi-host run (each has its own run id,
and only process 0 writes the run folder): their logs stay on their host's temporary folder. Console lines are written
with `tqdm.write`, so a progress bar stays on its own line; a warning repeated word for word
(each cell of a dataset checks its data again) is shown once.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

SHOW = {"console": True}  # `extra=` of a log line a person should see during a run
LOG_ONLY = {"console": False}  # `extra=` of a warning that is only for the log file

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Log lines from code under these folders count as the suite's own (warnings reach the console).
_OWN_CODE = tuple(os.path.join(_REPO, d) + os.sep for d in ("bioacoustics_jax", "launch",
                                                               "experiments"))
_FORMAT = "%(levelname).1s%(asctime)s %(filename)s:%(lineno)d] %(message)s"


def is_own(record: logging.LogRecord) -> bool:
  """Whether `record` was logged by this suite's code (a Python warning: raised by it)."""
  if record.name == "py.warnings":
    return str(record.args[0] if record.args else record.msg).startswith(_OWN_CODE)
  return record.pathname.startswith(_OWN_CODE)


def shown(record: logging.LogRecord) -> bool:
  """The console's rule (see module doc): marked lines, own warnings, and any error."""
  mark = getattr(record, "console", None)
  if mark is not None:
    return mark
  return record.levelno >= logging.ERROR or record.levelno >= logging.WARNING and is_own(record)


class _Console(logging.Handler):
  """stderr, through tqdm.write: an active progress bar is cleared and redrawn below the line."""

  def __init__(self, verbose: bool):
    super().__init__()
    self.verbose = verbose
    self.warned: set[str] = set()  # a warning repeated by every cell is shown once

  def emit(self, record: logging.LogRecord) -> None:
    if not (self.verbose or shown(record)):
      return
    try:
      text = record.getMessage()
      if record.levelno >= logging.WARNING and not self.verbose:
        if text in self.warned:
          return
        self.warned.add(text)
        text = f"{record.levelname}: {text}"
      if self.verbose:
        text = self.format(record)
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      tqdm.write(text, file=sys.stderr)
    except Exception:  # pylint: disable=broad-except
      self.handleError(record)


class LogFile(logging.Handler):
  """Every line into `path`, held in memory until the folder of `path` exists."""

  def __init__(self, path: str):
    super().__init__()
    self.path = path
    self.pending: list[str] = []
    self.file = None
    self.setFormatter(logging.Formatter(_FORMAT))

  def emit(self, record: logging.LogRecord) -> None:
    try:
      text = self.format(record) + "\n"
      if self.file is None and os.path.isdir(os.path.dirname(self.path)):
        self.file = open(self.path, "a", encoding="utf-8")
        self.file.writelines(self.pending)
        self.pending = []
      if self.file is None:
        self.pending.append(text)
      else:
        self.file.write(text)
        self.file.flush()
    except Exception:  # pylint: disable=broad-except
      self.handleError(record)

  def close(self) -> str:
    """Closes the file (first written to the temporary folder if the run folder never
    appeared) and returns its path."""
    if self.file is None:
      if os.path.isdir(os.path.dirname(self.path)):
        self.file = open(self.path, "a", encoding="utf-8")
      else:
        name = os.path.basename(os.path.dirname(self.path)) or "run"
        self.path = os.path.join(tempfile.gettempdir(), f"bioacoustics_jax-{name}-log.txt")
        self.file = open(self.path, "w", encoding="utf-8")
      self.file.writelines(self.pending)
      self.pending = []
    self.file.close()
    super().close()
    return self.path


def setup(log_path: str, verbose: bool = False) -> LogFile:
  """Routes every log line to `log_path` and the lines a person reads to the console (module
  doc); replaces the handlers already on the root logger (absl's among them)."""
  root = logging.getLogger()
  for handler in list(root.handlers):
    root.removeHandler(handler)
  log_file = LogFile(log_path)
  screen = _Console(verbose)
  screen.setFormatter(logging.Formatter(_FORMAT))
  root.addHandler(log_file)
  root.addHandler(screen)
  # INFO at least; -v=1 keeps the DEBUG level absl set for it.
  root.setLevel(min(root.getEffectiveLevel(), logging.INFO) if verbose else logging.INFO)
  logging.captureWarnings(True)  # DeprecationWarnings of the libraries: the log file
  return log_file
