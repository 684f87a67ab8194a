"""The one filesystem layer: local paths and URIs (gs://, and ram:// in tests) alike.

`os.path.abspath("gs://bucket/run")` is "<cwd>/gs:/bucket/run", a local folder that nobody else
sees. Every writer of the workdir (results.csv and probes.csv, embedding sets and their cell
keys, views, projections, figures, report.md/html, run.json, training logs, sweep.json) goes
through `absolute` and the helpers here instead, which keep a URI a URI and reach it through
tf.io.gfile (the filesystem tf.data reads with). Orbax (checkpoints) and tfds (the prepared data
under `<workdir>/cache`) reach gs:// themselves through etils.epath, which knows gs:// but not
ram://. What must stay a local (or mounted) path says so with `require_local`: the raw audio
(data.root), read by soundfile.

Writes are atomic: a temporary name first, then renamed over the target.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import fnmatch
import glob as glob_lib
import io
import os
import posixpath
from typing import Any, Iterator

import numpy as np



def _gfile():
  from bioacoustics_jax import tf_compat  # noqa: F401  pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (on first use: TF is heavy)
  return tf.io.gfile


def is_uri(path: str) -> bool:
  """True for scheme://... paths (gs://bucket/x, ram://x), False for local ones."""
  return "://" in str(path)


def absolute(path: str) -> str:
  """A URI unchanged; a local path expanded (~) and made absolute."""
  path = os.fspath(path)
  if is_uri(path):
    return path.rstrip("/") if not path.endswith("://") else path
  return os.path.abspath(os.path.expanduser(path))


def require_local(path: str, what: str, why: str) -> str:
  """`path` made absolute, or a clear error for a URI where the reader still needs a POSIX
  path (`why`: e.g. the raw audio, read by soundfile): better than a local folder named `gs:`
  that no other host sees."""
  if is_uri(path):
    raise ValueError(
        f"{what}={path!r}: {why}, so it must be a local path. Mount the bucket on every host "
        "(e.g. gcsfuse --implicit-dirs BUCKET /mnt/BUCKET) and pass the mount path; the workdir "
        "(results, embeddings, reports, checkpoints, run records) may be a gs:// URI.")
  return absolute(path)


def join(path: str, *parts: str) -> str:
  return posixpath.join(path, *parts) if is_uri(path) else os.path.join(path, *parts)


def dirname(path: str) -> str:
  return posixpath.dirname(path) if is_uri(path) else os.path.dirname(path)


def exists(path: str) -> bool:
  return _gfile().exists(path)


def isdir(path: str) -> bool:
  return _gfile().isdir(path)


def makedirs(path: str) -> None:
  if path and not _gfile().isdir(path):
    _gfile().makedirs(path)


def listdir(path: str) -> list[str]:
  return sorted(p.rstrip("/") for p in _gfile().listdir(path))


def open(path: str, mode: str = "r"):  # pylint: disable=redefined-builtin
  return _gfile().GFile(path, mode)


def read_bytes(path: str) -> bytes:
  with _gfile().GFile(path, "rb") as f:
    return f.read()


def write_bytes(path: str, data: bytes) -> None:
  """Writes `data` whole: to a temporary name first, then renamed over `path` (a killed run
  leaves the old file or the new one, never half of one)."""
  makedirs(dirname(path))
  tmp = f"{path}.tmp{os.getpid()}"
  with _gfile().GFile(tmp, "wb") as f:
    f.write(data)
  _gfile().rename(tmp, path, overwrite=True)


def save_npz(path: str, **arrays: Any) -> str:
  """np.savez to a local path or a URI (atomic, see write_bytes)."""
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  write_bytes(path, buffer.getvalue())
  return path


def load_npz(path: str):
  """np.load of an .npz at a local path or a URI (use as a context manager, like np.load)."""
  if not is_uri(path):
    return np.load(path, allow_pickle=False)
  return np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)


@contextlib.contextmanager
def open_text(path: str, mode: str = "r") -> Iterator[Any]:
  """A text file for the csv module (newline=""), at a local path or a URI; mode "r" or "w"
  (written whole: to a temporary name, renamed over `path` when the block ends)."""
  if mode not in ("r", "w"):
    raise ValueError(f"open_text mode {mode!r}: 'r' or 'w'")
  if not is_uri(path):
    if mode == "w":
      makedirs(dirname(path))
      tmp = f"{path}.tmp{os.getpid()}"
      with builtins.open(tmp, "w", newline="") as f:
        yield f
      os.replace(tmp, path)
    else:
      with builtins.open(path, newline="") as f:
        yield f
    return
  if mode == "r":
    yield io.StringIO(read_text(path), newline="")
    return
  buffer = io.StringIO(newline="")
  yield buffer
  write_text(path, buffer.getvalue())


def walk_files(root: str) -> list[str]:
  """Every file below `root` (local or URI), sorted; [] if `root` does not exist."""
  if not _gfile().isdir(root):
    return []
  return sorted(join(base, f) for base, _, files in _gfile().walk(root) for f in files)


def glob(pattern: str) -> list[str]:
  """Paths matching `pattern` (local or URI), sorted; `**` matches any depth, as in
  glob.glob(recursive=True)."""
  if not is_uri(pattern):
    return sorted(glob_lib.glob(pattern, recursive=True))
  if "**" not in pattern:
    return sorted(_gfile().glob(pattern))
  root = pattern.split("**", 1)[0].rstrip("/")
  # fnmatch's * crosses "/": "a/**/b" is "a/*/b" (any depth below a) or "a/b" (none).
  deep, flat = (pattern.replace("/**/", sep).replace("**", "*") for sep in ("/*/", "/"))
  return [p for p in walk_files(root)
          if fnmatch.fnmatchcase(p, deep) or fnmatch.fnmatchcase(p, flat)]


def read_text(path: str) -> str:
  with _gfile().GFile(path, "r") as f:
    return f.read()


def write_text(path: str, text: str) -> None:
  """Writes `text` whole: to a temporary name first, then renamed over `path`."""
  makedirs(dirname(path))
  tmp = f"{path}.tmp{os.getpid()}"
  with _gfile().GFile(tmp, "w") as f:
    f.write(text)
  _gfile().rename(tmp, path, overwrite=True)


def remove(path: str) -> None:
  if _gfile().exists(path):
    _gfile().remove(path)


def rmtree(path: str) -> None:
  if _gfile().exists(path):
    _gfile().rmtree(path)



@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
  """An exclusive lock on `<path>.lock` for the duration of the block (blocks until free): the
  cell store and the results store hold it around a load-or-compute or a read-modify-write.
  None for a URI (no file locks there: one writer per file)."""
  if is_uri(path):
    yield
    return
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with builtins.open(f"{path}.lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)
