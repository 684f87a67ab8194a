"""The canonical row order every reducer and clusterer sees, so a score never depends on the order
in which the clips were listed.

UMAP, t-SNE, k-means and GMM are seeded, but a seed fixes a sequence of random draws, not which
point each draw lands on: the same clips listed in another order (a folder vs a csv of the same
files) get other initial centroids, another neighbour-graph sampling and another score. The
evaluator therefore sorts the rows by clip id (ties: label, then the embedding's bytes), runs
every step on that order with seeds taken from the evaluation settings (never from a row's
position), and maps per-row outputs (projections, predicted clusters) back to the caller's
order with `restore`.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np


def order(ids: Sequence[str], labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
  """The permutation (int64 [N]) that puts the rows in canonical order: sorted by id, then label,
  then the embedding's bytes (hashed; only rows whose id repeats are hashed)."""
  ids = np.asarray([str(i) for i in ids])
  labels = np.asarray(labels)
  _, id_rank, id_counts = np.unique(ids, return_inverse=True, return_counts=True)
  tie = np.zeros(len(ids), dtype=np.uint64)
  repeated = np.flatnonzero(id_counts[id_rank] > 1)
  if len(repeated):
    rows = np.ascontiguousarray(embeddings[repeated], dtype=np.float32)
    tie[repeated] = [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "big")
                     for r in rows]
  return np.lexsort((tie, labels, id_rank)).astype(np.int64)  # last key sorts first


def restore(values: np.ndarray, permutation: np.ndarray) -> np.ndarray:
  """Per-row `values` computed in canonical order, put back in the caller's row order."""
  out = np.empty_like(values)
  out[permutation] = values
  return out
