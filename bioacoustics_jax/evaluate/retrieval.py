"""kNN retrieval scores on one split: precision@k and mAP@R, per query (for intervals).

Every query is one example of the (test) split searching all the others (leave-one-out) by
Euclidean distance in the embedding (evaluate/neighbors.py, on the device). A neighbour is
relevant when it has the query's label (for detection sets, the clustering label: background or
the window's first class). Queries whose class has no other member are left out: nothing can be
retrieved for them.
- precision@k: the fraction of the k nearest that are relevant.
- mAP@R (Musgrave et al. 2020, "A metric learning reality check"): R = the number of other
  examples of the query's class; AP over the R nearest, (1/R) sum_{i<=R} rel(i) P@i. R is capped
  at `r_max` (default 1,000) so a 50,000-window background class does not turn the top-R search
  into a full sort; below the cap it is exact, and the row says the cap.
At scale, `max_queries` (a seeded sample of queries, against the full base) bounds the cost at
max_queries x N x D; below it every example queries.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bioacoustics_jax.evaluate import neighbors

DEFAULT_KS = (1, 5, 20)


@dataclasses.dataclass
class RetrievalResult:
  """Per-query values (NaN-free) and what was measured."""

  precision_at: dict[int, np.ndarray]  # k -> [Q] precision@k of each query
  ap_at_r: np.ndarray  # [Q] AP@R of each query
  n_queries: int
  r_max: int


def retrieval_scores(embeddings: np.ndarray, labels: np.ndarray, ks=DEFAULT_KS,
                     r_max: int = 1000, max_queries: int | None = None, seed: int = 0,
                     chunk: int = neighbors.DEFAULT_CHUNK) -> RetrievalResult:
  labels = np.asarray(labels)
  n = len(labels)
  _, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
  others = counts[index] - 1
  queries = np.flatnonzero(others > 0)
  if max_queries is not None and len(queries) > max_queries:
    queries = np.sort(np.random.default_rng(seed).choice(queries, max_queries, replace=False))
  if len(queries) == 0:
    raise ValueError("retrieval: no class has two examples; nothing can be retrieved")
  r = np.minimum(others[queries], r_max)
  depth = int(min(n - 1, max(max(ks), r.max())))
  idx, _ = neighbors.knn(embeddings, depth, queries=np.asarray(embeddings)[queries],
                         query_index=queries, chunk=chunk)
  relevant = labels[idx] == labels[queries][:, None]  # [Q, depth]
  hits = np.cumsum(relevant, axis=1)
  precision_at = {k: hits[:, min(k, depth) - 1] / k for k in ks}
  ranks = np.arange(1, depth + 1)
  within_r = ranks[None, :] <= r[:, None]
  ap = np.sum(np.where(within_r & relevant, hits / ranks[None, :], 0.0), axis=1) / r
  return RetrievalResult(precision_at, ap, len(queries), int(r_max))
