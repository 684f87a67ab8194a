"""A user's mistake is one line on the console; a bug keeps its traceback.

    try:
      ...
    except Exception as e:
      if user_errors.find(e) is None:
        raise                                              # a bug: the traceback is shown
      user_errors.print_error(e, log_path)                 # "ERROR: ..." + <= 3 lines
      sys.exit(2)

The errors below are the ones this suite raises with the fix in their message: a config that
cannot load or run, an unknown name, a missing weights file, a bad audio file or table, a
multi-host set-up that does not match. Such an error raised inside a library's frames (a bad
wav found while tfds prepares a split, re-raised by the experiment) is found along the chain of
causes. The traceback always goes to the log file (launch/run.py logs it there first).
"""

from __future__ import annotations

import sys

CONTEXT_LINES = 3  # at most this many lines under the error line


# (module, class) of the errors that carry their fix. Looked up only among the modules already
# imported (an error of a class was raised by its imported module), so that reporting a config
# typo does not import JAX.
USER_ERRORS = (("launch.config_loader", "ConfigLoadError"),
               ("bioacoustics_jax.config_checks", "ConfigError"),
               ("bioacoustics_jax.registry", "UnknownNameError"),
               ("bioacoustics_jax.porting.load", "MissingWeightsError"),
               ("bioacoustics_jax.porting.load", "UnsafeCheckpointError"),
               ("bioacoustics_jax.audio.io", "AudioError"),
               ("bioacoustics_jax.data.annotations", "TableError"),
               ("bioacoustics_jax.parallel.distributed", "SetupError"),
               ("bioacoustics_jax.zoo.download", "DownloadError"))


def user_errors() -> tuple[type[BaseException], ...]:
  """The classes of USER_ERRORS whose modules are imported."""
  return tuple(getattr(sys.modules[m], c) for m, c in USER_ERRORS if m in sys.modules)


def find(error: BaseException) -> BaseException | None:
  """The user error that `error` is, or was caused by; None for anything else (a bug)."""
  types, seen = user_errors(), set()
  while error is not None and id(error) not in seen:
    if isinstance(error, types):
      return error
    seen.add(id(error))
    error = error.__cause__ or error.__context__
  return None


def lines(error: BaseException, log_path: str) -> list[str]:
  """The console's lines for a user error: `ERROR: <message>`, what follows of the message
  (cut to fit) and where the log with the traceback is."""
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  message = [line for line in str(text).splitlines() if line.strip()] or [type(error).__name__]
  context = message[1:]
  room = CONTEXT_LINES - 1  # the last line says where the log is
  if len(context) > room:
    context = context[:room - 1] + [f"... ({len(context) - room + 1} more lines in the log)"]
  return [f"ERROR: {message[0]}", *context, f"(details and traceback: {log_path})"]


def print_error(error: BaseException, log_path: str) -> None:
  print("\n".join(lines(error, log_path)), file=sys.stderr)
