"""The one filesystem layer: local paths and URIs (gs://, and ram:// in tests) alike.

`os.path.abspath("gs://bucket/run")` is "<cwd>/gs:/bucket/run", a local folder that nobody else
sees; every path the suite writes (workdir, data root, caches, results, reports, figures,
checkpoints, run records) goes through `absolute` and the helpers here instead, which keep a
URI a URI and reach it through tf.io.gfile (the filesystem tf.data and tfds read with; orbax
reaches gs:// through etils.epath on the same backend).
"""

from __future__ import annotations

import os
import posixpath

import tensorflow as tf

gfile = tf.io.gfile


def is_uri(path: str) -> bool:
  """True for scheme://... paths (gs://bucket/x, ram://x), False for local ones."""
  return "://" in str(path)


def absolute(path: str) -> str:
  """A URI unchanged; a local path expanded (~) and made absolute."""
  path = os.fspath(path)
  if is_uri(path):
    return path.rstrip("/") if not path.endswith("://") else path
  return os.path.abspath(os.path.expanduser(path))


def require_local(path: str, what: str) -> str:
  """`path` made absolute, or a clear error for a URI where a writer still needs a POSIX path
  (results.csv's file lock, the embedding .npz files, the tfds cache): better than a local
  folder named `gs:` that no other host sees."""
  if is_uri(path):
    raise ValueError(
        f"{what}={path!r}: this part of the suite still writes through the local filesystem, "
        "so a URI would become a local folder named after its scheme. Mount the bucket on "
        "every host (e.g. gcsfuse --implicit-dirs BUCKET /mnt/BUCKET) and pass the mount path; "
        "checkpoints and run records reach gs:// directly.")
  return absolute(path)


def join(path: str, *parts: str) -> str:
  return posixpath.join(path, *parts) if is_uri(path) else os.path.join(path, *parts)


def dirname(path: str) -> str:
  return posixpath.dirname(path) if is_uri(path) else os.path.dirname(path)


def exists(path: str) -> bool:
  return gfile.exists(path)


def isdir(path: str) -> bool:
  return gfile.isdir(path)


def makedirs(path: str) -> None:
  if path and not gfile.isdir(path):
    gfile.makedirs(path)


def listdir(path: str) -> list[str]:
  return sorted(p.rstrip("/") for p in gfile.listdir(path))


def open(path: str, mode: str = "r"):  # pylint: disable=redefined-builtin
  return gfile.GFile(path, mode)


def read_text(path: str) -> str:
  with gfile.GFile(path, "r") as f:
    return f.read()


def write_text(path: str, text: str) -> None:
  """Writes `text` whole: to a temporary name first, then renamed over `path`."""
  makedirs(dirname(path))
  tmp = f"{path}.tmp{os.getpid()}"
  with gfile.GFile(tmp, "w") as f:
    f.write(text)
  gfile.rename(tmp, path, overwrite=True)


def remove(path: str) -> None:
  if gfile.exists(path):
    gfile.remove(path)


def rmtree(path: str) -> None:
  if gfile.exists(path):
    gfile.rmtree(path)

