"""One memory-mapped copy of a store's embeddings, so repeated searches do not re-read every shard.

    vectors = vectors.load(store)   # builds W/search/vectors-<dtype>-<key>/ once, then maps it
    vectors.embedding                    # [N, D] unit vectors, np.memmap (float32 or float16)
    vectors.hit(i, score, rank)          # {rank, recording, start, end, score, label}

Row i is row i of `store.blocks()` (shards in name order). The folder's name is a key of the
manifest's shard list (name and rows of each shard, the settings key) and the dtype: a grown store
has another key, so its cache is built again (and the stale one removed) at the next load. The
cache is written to a temporary folder and renamed (the rename is the commit), so a killed build
leaves no half cache. Files (numpy .npy, readable without this package): embedding [N, D] unit
rows, start/end [N] float64 s, recording/label [N] int32 indices into names.json.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil

import numpy as np

from bioacoustics_jax.soundscape import store as store_lib

FOLDER = "search"  # W/search/: the caches and indexes of search, beside W/shards/
DTYPES = ("float32", "float16")


def key(store: store_lib.Store, dtype: str = "float32") -> str:
  """Changes whenever a shard is added or removed, or the store's settings change."""
  shards = sorted((name, s["rows"]) for name, s in store.manifest["shards"].items())
  text = json.dumps([store.manifest["settings_key"], shards, dtype])
  return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Vectors:
  """A store's rows in memory-mapped arrays (see the module docstring)."""
  path: str
  key: str
  embedding: np.ndarray
  start: np.ndarray
  end: np.ndarray
  recording: np.ndarray
  label: np.ndarray
  names: list[str]
  labels: list[str]

  def __len__(self) -> int:
    return len(self.start)

  def hit(self, row: int, score: float, rank: int) -> dict:
    return {"rank": rank, "recording": self.names[self.recording[row]],
            "start": float(self.start[row]), "end": float(self.end[row]), "score": float(score),
            "label": self.labels[self.label[row]]}


def load(store: store_lib.Store, dtype: str = "float32") -> Vectors:
  """The store's cache, built first if it is missing or the store changed since."""
  if dtype not in DTYPES:
    raise ValueError(f"Cache dtype {dtype!r}: use one of {DTYPES}.")
  if not store.manifest["shards"]:
    raise ValueError(f"The store at {store.path} has no windows yet; embed an archive into it "
                     "first (python -m launch.embed).")
  k = key(store, dtype)
  folder = os.path.join(store.path, FOLDER, f"vectors-{dtype}-{k}")
  if not os.path.isfile(os.path.join(folder, "names.json")):
    _build(store, folder, dtype)
  return _open(folder, k)


def _open(folder: str, k: str) -> Vectors:
  def array(name):
    return np.load(os.path.join(folder, f"{name}.npy"), mmap_mode="r")
  with open(os.path.join(folder, "names.json")) as f:
    names = json.load(f)
  return Vectors(folder, k, array("embedding"), array("start"), array("end"), array("recording"),
                 array("label"), names["recordings"], names["labels"])


def _build(store: store_lib.Store, folder: str, dtype: str) -> None:
  """Copies the shards into one array of unit rows, block by block (memory: one shard)."""
  parent = os.path.dirname(folder)
  os.makedirs(parent, exist_ok=True)
  tmp = f"{folder}.{os.getpid()}.tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  rows = store.num_windows()
  with np.load(store.shard_files()[0]) as first:
    dim = first["embedding"].shape[1]
  out = {"embedding": np.lib.format.open_memmap(os.path.join(tmp, "embedding.npy"), "w+",
                                                np.dtype(dtype), (rows, dim))}
  for name, kind in (("start", np.float64), ("end", np.float64), ("recording", np.int32),
                     ("label", np.int32)):
    out[name] = np.lib.format.open_memmap(os.path.join(tmp, f"{name}.npy"), "w+", kind, (rows,))
  names: dict[str, dict[str, int]] = {"recordings": {}, "labels": {"": 0}}
  lo = 0
  for block in store.blocks():
    hi = lo + len(block["start"])
    x = block["embedding"]
    if x.shape[1] != dim:
      raise ValueError(f"{store.path}: a shard holds {x.shape[1]}-d embeddings, another {dim}-d; "
                       "the store is damaged: embed the archive again into a new store.")
    out["embedding"][lo:hi] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out["start"][lo:hi], out["end"][lo:hi] = block["start"], block["end"]
    for column, table in (("recording", names["recordings"]), ("label", names["labels"])):
      values, inverse = np.unique(block[column], return_inverse=True)
      ids = np.array([table.setdefault(str(v), len(table)) for v in values], np.int32)
      out[column][lo:hi] = ids[inverse]
    lo = hi
  if lo != rows:
    raise ValueError(f"{store.path}: the shards hold {lo} rows, the manifest says {rows}; "
                     "reopen the store as a writer (launch.embed) to recount them.")
  for array in out.values():
    array.flush()
  del out
  with open(os.path.join(tmp, "names.json"), "w") as f:
    json.dump({"recordings": list(names["recordings"]), "labels": list(names["labels"])}, f)
  for stale in os.listdir(parent):  # the caches (of this dtype) of the store as it was
    if stale.startswith(f"vectors-{dtype}-") and not stale.endswith(".tmp"):
      shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
  try:
    os.replace(tmp, folder)
  except OSError:  # another process committed the same cache first
    if not os.path.isfile(os.path.join(folder, "names.json")):
      raise
    shutil.rmtree(tmp, ignore_errors=True)
