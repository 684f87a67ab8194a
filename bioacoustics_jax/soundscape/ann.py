"""Approximate nearest neighbours over a store, for stores too large to scan at each query (FAISS).

    index = ann.load(store, vectors)               # built once, saved in W/search/, then read
    hits = ann.approximate(vectors, index, queries, k=50, nprobe=64)

The index is FAISS's inverted file with 8-bit scalar-quantised rows (`IVF<nlist>,SQ8`, inner
product on the unit rows of vectors.py, i.e. cosine): k-means on a sample gives `nlist` cells
(default sqrt(rows)), each row is stored in its cell at a quarter of its float32 size, and a query
scans only its `nprobe` nearest cells. The `rerank` x k best candidates are then scored exactly
against the memory-mapped unit rows, so the scores returned are exact cosines and only which rows
are found is approximate (recall@k against `search.exact` is measured by
experiments/perf/bench_search.py). The file is keyed to the cache key of vectors.py (so a grown
store builds a new index) and to nlist; an index of the store as it was is removed when the new
one is saved.
"""

from __future__ import annotations

import math
import os

import faiss
import numpy as np

from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import vectors as vectors_lib

TRAIN_PER_CELL = 64  # k-means sample: rows per cell (FAISS warns under 39)
ADD_ROWS = 262144  # rows added to the index at a time (memory: one block in float32)
_OPEN: dict = {}  # path -> index read or built in this process (repeated queries reuse it)


def default_nlist(rows: int) -> int:
  """sqrt(rows) cells (FAISS's rule of thumb is 1 to 16 x sqrt), at least 39 rows each."""
  return max(1, min(int(math.sqrt(rows)), rows // 39))


def default_nprobe(nlist: int) -> int:
  """Cells scanned per query: 1/16 of them, at least 8 (all of them when there are fewer)."""
  return min(nlist, max(8, math.ceil(nlist / 16)))


def index_path(store: store_lib.Store, vectors: vectors_lib.Vectors, nlist: int) -> str:
  return os.path.join(store.path, vectors_lib.FOLDER, f"ivf-{vectors.key}-n{nlist}.faiss")


def load(store: store_lib.Store, vectors: vectors_lib.Vectors, nlist: int = 0):
  """The store's index (nlist cells; 0 = default_nlist), built and saved first if missing."""
  nlist = nlist or default_nlist(len(vectors))
  if nlist > len(vectors):
    raise ValueError(f"An index of {nlist} cells over {len(vectors)} windows: give --nlist <= "
                     "the number of windows (0 = sqrt of it).")
  path = index_path(store, vectors, nlist)
  if path in _OPEN:
    return _OPEN[path]
  if os.path.isfile(path):
    _OPEN[path] = faiss.read_index(path)
    return _OPEN[path]
  index = build(vectors, nlist)
  tmp = f"{path}.{os.getpid()}.tmp"
  faiss.write_index(index, tmp)
  folder = os.path.dirname(path)
  current = {vectors_lib.key(store, dtype) for dtype in vectors_lib.DTYPES}
  for stale in os.listdir(folder):  # indexes of the store as it was
    if (stale.startswith("ivf-") and stale.endswith(".faiss")
        and stale.split("-")[1] not in current):
      os.remove(os.path.join(folder, stale))
  os.replace(tmp, path)
  _OPEN.clear()
  _OPEN[path] = index
  return index


def build(vectors: vectors_lib.Vectors, nlist: int, seed: int = 0):
  """An IVF-SQ8 index over the unit rows of `vectors` (trained on a sample of them)."""
  rows, dim = vectors.embedding.shape
  index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
  rng = np.random.default_rng(seed)
  sample = np.sort(rng.choice(rows, min(rows, TRAIN_PER_CELL * nlist), replace=False))
  index.train(np.ascontiguousarray(vectors.embedding[sample], np.float32))
  for lo in range(0, rows, ADD_ROWS):
    index.add(np.ascontiguousarray(vectors.embedding[lo:lo + ADD_ROWS], np.float32))
  return index


def approximate(vectors: vectors_lib.Vectors, index, queries: np.ndarray, k: int = 50,
                nprobe: int = 0, rerank: int = 4) -> list[list[dict]]:
  """The k best windows of each unit query [Q, D] found by the index, exact scores, best first."""
  queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
  index.nprobe = nprobe or default_nprobe(index.nlist)
  _, found = index.search(queries, min(len(vectors), k * max(1, rerank)))
  out = []
  for q, rows in enumerate(found):
    rows = np.sort(rows[rows >= 0])  # -1: fewer rows in the probed cells than asked for
    scores = np.asarray(vectors.embedding[rows], np.float32) @ queries[q]
    order = np.lexsort((rows, -scores))[:k]  # ties: the earlier row first, as exact does
    out.append([vectors.hit(int(rows[i]), scores[i], r + 1) for r, i in enumerate(order)])
  return out
