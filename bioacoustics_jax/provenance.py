"""runs/<run id>/run.json: what one invocation was, so every results row can be traced to it.

    record = provenance.start_run(workdir, config)   # status "running", written at once
    ... cells ...
    record.finish("ok") | record.finish("failed", error=e)

The record holds the full config, the command line, the git commit (and whether the checkout had
uncommitted changes), the versions of the packages that compute the numbers (read from package
metadata, importing nothing), the JAX backend and devices, the host, start and end times, the
status and, on failure, the error with its traceback. Every results row carries the run id.

A checkout shipped without .git (launch/tpu/run.sh setup) carries its commit in a COMMIT file at
the repository root, which stands in for git. In a multi-process run only process 0 writes the
record; every path goes through bioacoustics_jax.paths (gs:// workdirs).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import traceback
from typing import Any

from bioacoustics_jax import paths

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "tensorflow-cpu", "tensorflow",
            "tensorflow-datasets", "numpy", "scipy", "scikit-learn", "umap-learn", "librosa",
            "torch", "torchvision", "transformers", "bioacoustics_jax")


# What a report needs from a finished cell's embedding-set meta, kept in run.json so that
# `python -m bioacoustics_jax.report` rebuilds report.md exactly: the data section (origin, input
# checks, skipped files) and, for a fine-tuned cell, the chosen learning rate and best epoch.
REPORTED_META = ("dataset", "split", "data_origin", "data_warnings", "skipped", "learning_rate",
                 "best_epoch", "best_metric")


def reported_meta(meta: dict[str, Any]) -> dict[str, Any]:
  """The part of an embedding set's meta that run.json keeps (REPORTED_META)."""
  return {k: meta[k] for k in REPORTED_META if k in meta}


def new_run_id() -> str:
  """Sortable and unique: UTC time to the second plus 6 random hex digits."""
  return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S-") + \
      secrets.token_hex(3)


def git_state(path: str) -> dict[str, Any]:
  """{"commit", "dirty"} of the checkout holding `path`; None values outside a git checkout."""
  def git(*args):
    return subprocess.run(["git", "-C", path, *args], capture_output=True, text=True,
                          timeout=20, check=True).stdout.strip()
  try:
    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
  except (OSError, subprocess.SubprocessError):
    return shipped_commit(path)
  return {"commit": commit, "dirty": dirty}


COMMIT_FILE = "COMMIT"


def shipped_commit(path: str) -> dict[str, Any]:
  """{"commit", "dirty"} from the COMMIT file (`<sha>` or `<sha> dirty`) that launch/tpu ships
  beside the code, looked up from `path` upwards; None values without one."""
  folder = os.path.abspath(path)
  while True:
    candidate = os.path.join(folder, COMMIT_FILE)
    if os.path.isfile(candidate):
      words = open(candidate).read().split()
      if words:
        return {"commit": words[0], "dirty": "dirty" in words[1:]}
    parent = os.path.dirname(folder)
    if parent == folder:
      return {"commit": None, "dirty": None}
    folder = parent


def versions() -> dict[str, str]:
  out = {"python": platform.python_version()}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      continue
  return out


def devices() -> dict[str, Any]:
  import jax  # pylint: disable=g-import-not-at-top
  local = jax.local_devices()
  return {"backend": jax.default_backend(), "kind": local[0].device_kind if local else None,
          "local_device_count": len(local), "device_count": jax.device_count(),
          "process_index": jax.process_index(), "process_count": jax.process_count()}


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RunRecord:
  """The run.json of one invocation; rewritten atomically at every change."""

  def __init__(self, workdir: str, config: Any, run_id: str | None = None,
               argv: list[str] | None = None):
    self.run_id = run_id or new_run_id()
    self.path = paths.join(workdir, "runs", self.run_id, "run.json")
    config_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    self.data: dict[str, Any] = {
        "run_id": self.run_id, "status": "running", "start": _now(), "end": None,
        "command": " ".join(argv if argv is not None else sys.argv), "cwd": os.getcwd(),
        **git_state(os.path.dirname(os.path.abspath(__file__))),
        "versions": versions(), "devices": devices(), "host": socket.gethostname(),
        "config": config_dict, "cells": [], "error": None,
    }
    self._write()

  def add_cell(self, **cell: Any) -> None:
    """One finished (or failed) cell: dataset, model, regime, cell key, status, seconds and
    its `meta` (reported_meta)."""
    self.data["cells"].append(cell)
    self._write()

  def finish(self, status: str, error: BaseException | None = None) -> None:
    self.data.update(status=status, end=_now())
    if error is not None:
      self.data["error"] = {"type": type(error).__name__, "message": str(error),
                            "traceback": "".join(traceback.format_exception(error))}
    self._write()

  def _write(self) -> None:
    import jax  # pylint: disable=g-import-not-at-top
    if jax.process_index() != 0:
      return  # one record per run, written by process 0
    paths.write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True, default=str))


def start_run(workdir: str, config: Any, argv: list[str] | None = None,
              run_id: str | None = None) -> RunRecord:
  """A new run.json (under `run_id`, chosen by the caller when its log file is named after it
  before the run starts: launch/run.py)."""
  return RunRecord(workdir, config, run_id=run_id, argv=argv)
