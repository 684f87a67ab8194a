"""Ported variables on disk: an orbax checkpoint plus a small json saying where they came from.

Layout of a ported-weights directory (written by `python -m bioacoustics_jax.zoo`):
  <dir>/variables/   orbax StandardCheckpointer: {"params": ..., "batch_stats": ...} (float32)
  <dir>/porting.json {"model", "architecture", "source", "sha256", "num_params", ...}
Porting once and loading this is much faster than reading and porting the .pth every run, and
the sha256 ties every result back to the exact source file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
from typing import Any

import jax
import numpy as np

VARIABLES_SUBDIR = "variables"
METADATA_FILE = "porting.json"


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while block := f.read(chunk):
      digest.update(block)
  return digest.hexdigest()


def save_variables(variables: Any, out_dir: str | os.PathLike, metadata: dict[str, Any],
                   force: bool = False) -> pathlib.Path:
  """Writes `variables` and `metadata` under `out_dir` (created); returns the directory."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  out = pathlib.Path(out_dir).expanduser().resolve()
  target = out / VARIABLES_SUBDIR
  if target.exists() and not force:
    raise FileExistsError(f"{target} already exists; choose another --out or pass force=True.")
  out.mkdir(parents=True, exist_ok=True)
  host = jax.tree.map(np.asarray, variables)
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(target, host, force=force)
    checkpointer.wait_until_finished()
  meta = dict(metadata)
  meta["num_params"] = int(sum(np.size(x) for x in jax.tree.leaves(host.get("params", {}))))
  (out / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
  return out


def load_metadata(directory: str | os.PathLike) -> dict[str, Any]:
  path = pathlib.Path(directory).expanduser() / METADATA_FILE
  if not path.is_file():
    raise FileNotFoundError(
        f"{path} not found: {directory} is not a ported-weights directory. Create one with "
        "`python -m bioacoustics_jax.zoo --model=NAME [--weights=FILE] [--out=DIR]`.")
  return json.loads(path.read_text())


def load_variables(directory: str | os.PathLike) -> Any:
  """The {"params", "batch_stats"} tree saved by `save_variables` (numpy arrays on the host)."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  directory = pathlib.Path(directory).expanduser().resolve()
  load_metadata(directory)  # clear error if this is not a ported-weights directory
  with ocp.StandardCheckpointer() as checkpointer:
    restored = checkpointer.restore(directory / VARIABLES_SUBDIR)
  return jax.tree.map(np.asarray, restored)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
  del size, mtime_ns  # part of the cache key: a rewritten file is hashed again
  return sha256_of(path)


def cached_sha256(path: str | os.PathLike) -> str:
  """sha256 of a file, hashed once per (path, size, mtime) in this process."""
  stat = os.stat(path)
  return _sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)

