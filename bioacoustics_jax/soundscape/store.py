"""The embedding store of an archive: npz shards of (recording, start, end, embedding) + a manifest.

    W/manifest.json        what made the embeddings (`settings`: model identity, recipe, input
                           rate, window, hop, dtype, code hash), the finished recordings and
                           shards, and each run (`runs`: commit, versions, devices, added)
    W/shards/<id>.npz      recording [N] str, start [N] float64 s, end [N] float64 s,
                           embedding [N, D] float32, label [N] str ("" = none; labels.py);
                           every recording whole, in one shard

Readable without this package: `json.load(manifest)` and `numpy.load(W/shards/<file>)` for each
`manifest["shards"]` entry (`load_arrays` does that and sorts rows by recording, then start).

Commits are atomic: a shard is written to a temporary name, flushed to disk and renamed; the
rename is the commit (a killed run leaves at most a `*.tmp` file, removed at the next start).
The manifest is rewritten the same way (temp + rename) after each commit by process 0, and
rebuilt at start from the shards on disk (a shard renamed just before a kill is counted, not
redone), so a resumed run never embeds a recording twice and never loses one. Each process
writes its own shards (`<time>-p<process>`), so hosts never write one file.

`settings` decide every number in the store; opening a store with other settings is refused
(`SettingsMismatch`, one line with the fix), so two models or two window grids never mix.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from typing import Any, Iterable

import numpy as np

FORMAT = "bioacoustics_jax.soundscape.store/1"
MANIFEST = "manifest.json"
SHARDS = "shards"
COLUMNS = ("recording", "start", "end", "embedding", "label")


class SettingsMismatch(ValueError):
  """A store made with other settings than this run's."""


def settings_key(settings: dict[str, Any]) -> str:
  text = json.dumps(settings, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_atomic(path: str, data: bytes) -> None:
  tmp = f"{path}.{os.getpid()}.tmp"
  with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for k in sorted(set(old) | set(new)):
      out += _differences(old.get(k), new.get(k), f"{prefix}{k}.")
    return out
  return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


class Store:
  """One store folder. `open(path, settings, create=True)` is the way in."""

  def __init__(self, path: str, manifest: dict[str, Any]):
    self.path = path
    self.manifest = manifest

  # --- opening ---------------------------------------------------------------------------------

  @classmethod
  def open(cls, path: str, settings: dict[str, Any] | None = None, *,
           create: bool = False, writer: bool = False) -> "Store":
    """The store at `path`. With `settings`, they must equal the store's (else
    SettingsMismatch); `create` makes a new store when none is there; `writer` (process 0 of
    a run) removes leftover temp files and counts shards committed after the last manifest."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
      if not create:
        raise FileNotFoundError(f"No embedding store at {path} ({MANIFEST} missing); make one "
                                "with `python -m launch.embed --config=experiments/configs/"
                                f"archive.py:root=AUDIO --workdir={path}`.")
      if settings is None:
        raise ValueError("A new store needs its settings.")
      os.makedirs(os.path.join(path, SHARDS), exist_ok=True)
      store = cls(path, {"format": FORMAT, "settings": settings,
                         "settings_key": settings_key(settings), "created": _now(),
                         "recordings": {}, "shards": {}})
      if writer:
        store.write_manifest()
      return store
    with open(manifest_path) as f:
      manifest = json.load(f)
    if manifest.get("format") != FORMAT:
      raise ValueError(f"{manifest_path}: format {manifest.get('format')!r}, this code reads "
                       f"{FORMAT!r}; embed into a new --workdir.")
    if settings is not None and manifest["settings_key"] != settings_key(settings):
      changed = _differences(manifest["settings"], settings)
      raise SettingsMismatch(
          f"{path} holds embeddings made with other settings ({'; '.join(changed[:4])}"
          f"{'; ...' if len(changed) > 4 else ''}): they would not be comparable. Embed into a "
          f"new --workdir, or delete {path} to start over.")
    store = cls(path, manifest)
    if writer:
      store.recover()
    return store

  def recover(self) -> None:
    """Removes temp files of a killed run; adds shards committed after the last manifest."""
    folder = os.path.join(self.path, SHARDS)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(self.path):  # a manifest half written when the run was killed
      if name.startswith(MANIFEST) and name.endswith(".tmp"):
        os.remove(os.path.join(self.path, name))
    for name in os.listdir(folder):
      if name.endswith(".tmp"):
        os.remove(os.path.join(folder, name))
    self.add_committed_shards()
    for name in list(self.manifest["shards"]):
      if not os.path.isfile(os.path.join(folder, name)):
        raise FileNotFoundError(f"{self.path}: shard {name} is listed in {MANIFEST} but missing; "
                                "restore it, or delete the store and embed again.")
    self.write_manifest()

  def add_committed_shards(self) -> None:
    """Counts (in memory) the shards on disk that the manifest does not list yet: those other
    writers committed since it was written. Reads only; safe while they write (a shard is on
    disk under its name only once whole)."""
    folder = os.path.join(self.path, SHARDS)
    for name in sorted(os.listdir(folder)):
      if name.endswith(".npz") and name not in self.manifest["shards"]:
        with np.load(os.path.join(folder, name)) as shard:
          self._add(name, shard["recording"], json.loads(str(shard["files"])))

  # --- what is there ---------------------------------------------------------------------------

  @property
  def settings(self) -> dict[str, Any]:
    return self.manifest["settings"]

  @property
  def recordings(self) -> dict[str, dict[str, Any]]:
    """Finished recordings: name -> {shard, windows, seconds, size, ...}."""
    return self.manifest["recordings"]

  def shard_files(self) -> list[str]:
    return [os.path.join(self.path, SHARDS, s) for s in sorted(self.manifest["shards"])]

  def num_windows(self) -> int:
    return sum(s["rows"] for s in self.manifest["shards"].values())

  # --- writing ---------------------------------------------------------------------------------

  def commit(self, recordings: list[str], starts: np.ndarray, ends: np.ndarray,
             embeddings: np.ndarray, files: dict[str, dict[str, Any]], process: int = 0,
             labels: list[str] | None = None) -> str:
    """Writes one shard of whole recordings (row i belongs to `recordings[i]`) and returns its
    file name; `files` describes each recording (size, seconds, windows, labels table)."""
    recordings = np.asarray(recordings, dtype=str)
    labels = np.asarray(labels if labels is not None else [""] * len(recordings), dtype=str)
    if not len(recordings) == len(starts) == len(ends) == len(embeddings) == len(labels):
      raise ValueError("A shard's columns differ in length.")
    name = f"{time.time_ns():020d}-p{process:04d}.npz"
    buffer = io.BytesIO()
    np.savez(buffer, recording=recordings, start=np.asarray(starts, np.float64),
             end=np.asarray(ends, np.float64), embedding=np.asarray(embeddings, np.float32),
             label=labels,
             files=np.asarray(json.dumps(files, sort_keys=True)))
    _write_atomic(os.path.join(self.path, SHARDS, name), buffer.getvalue())
    self._add(name, recordings, files)
    return name

  def _add(self, shard: str, recordings: Iterable[str], files: dict[str, dict]) -> None:
    names = list(recordings)
    for rec, info in files.items():
      if rec in self.manifest["recordings"]:
        raise ValueError(f"{self.path}: recording {rec} is in shards "
                         f"{self.manifest['recordings'][rec]['shard']} and {shard}; delete one.")
      self.manifest["recordings"][rec] = dict(info, shard=shard)
    self.manifest["shards"][shard] = {"rows": len(names), "recordings": sorted(files)}

  def write_manifest(self) -> None:
    self.manifest["updated"] = _now()
    _write_atomic(os.path.join(self.path, MANIFEST),
                  json.dumps(self.manifest, indent=1, sort_keys=True).encode())

  # --- reading ---------------------------------------------------------------------------------

  def blocks(self, rows: int = 65536) -> Iterable[dict[str, np.ndarray]]:
    """The store's rows shard by shard, in blocks of at most `rows` (memory stays flat)."""
    for path in self.shard_files():
      with np.load(path) as shard:
        columns = {c: shard[c] for c in COLUMNS}
      for lo in range(0, len(columns["start"]), rows):
        yield {c: v[lo:lo + rows] for c, v in columns.items()}

  def load_arrays(self) -> dict[str, np.ndarray]:
    """Every row, sorted by (recording, start): the same store gives the same arrays whatever
    the number of processes or interruptions that wrote it."""
    parts = list(self.blocks())
    if not parts:
      raise ValueError(f"The store at {self.path} has no windows yet.")
    out = {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
    order = np.lexsort((out["start"], out["recording"]))
    return {c: v[order] for c, v in out.items()}


def _now() -> str:
  return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
