"""Chunked pairwise Euclidean distances in JAX: k nearest neighbours and the exact silhouette.

Both walk the queries in fixed-size chunks: one jitted [chunk, D] x [D, N] matmul gives a
[chunk, N] block of distances on the device, which is reduced there (top-k, or per-cluster sums)
before the next chunk, so memory is chunk x N and nothing N x N ever exists, on the host or the
device. The last chunk is padded, so each function compiles once per shape. Points are centred
first (distances do not change, float32 cancellation in ||x||^2 - 2 x.y + ||y||^2 shrinks).

The silhouette is exact (every pair), which is O(N^2 D): 757 s at 100,000 x 1,024 on 2 loaded CPU
cores (experiments/perf/results/evaluate_cpu.md); a GPU does the 2e13 flops in seconds. All labelings of one
embedding share one pass over the distances (`silhouette_samples(x, [labels, ...])`).
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.evaluate import precision

DEFAULT_CHUNK = 512


def _block(q: jax.Array, x: jax.Array, x_sq: jax.Array) -> jax.Array:
  cross = jnp.matmul(q, x.T, precision=precision.matmul_precision())
  return jnp.maximum(jnp.sum(q**2, axis=1)[:, None] - 2.0 * cross + x_sq[None, :], 0.0)


def _chunks(n: int, chunk: int):
  for start in range(0, n, chunk):
    yield start, min(start + chunk, n)


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
  return a if len(a) == rows else np.concatenate([a, np.repeat(a[-1:], rows - len(a), axis=0)])


@functools.partial(jax.jit, static_argnames=("k",))
def _knn_block(q, q_index, x, x_sq, k: int):
  d2 = _block(q, x, x_sq)
  # A query never finds itself (leave-one-out retrieval when queries are part of the base).
  d2 = jnp.where(jnp.arange(x.shape[0])[None, :] == q_index[:, None], jnp.inf, d2)
  neg, idx = jax.lax.top_k(-d2, k)
  return idx, jnp.sqrt(-neg)


def knn(base: np.ndarray, k: int, queries: np.ndarray | None = None,
        query_index: np.ndarray | None = None, chunk: int = DEFAULT_CHUNK
        ) -> tuple[np.ndarray, np.ndarray]:
  """(indices int64 [Q, k], distances [Q, k]) of each query's k nearest base points, nearest first.

  Without `queries`, every base point queries the others (leave-one-out). `query_index[i]` is the
  base row that query i is (excluded from its neighbours); -1 for a query outside the base.
  """
  base = np.asarray(base, np.float32)
  mean = base.mean(axis=0, keepdims=True)
  if queries is None:
    queries, query_index = base, np.arange(len(base))
  queries = np.asarray(queries, np.float32)
  if query_index is None:
    query_index = np.full(len(queries), -1)
  limit = len(base) - int(np.any(query_index >= 0))
  if not 1 <= k <= limit:
    raise ValueError(f"knn: k={k} must be in [1, {limit}] for {len(base)} base points")
  x = jnp.asarray(base - mean)
  x_sq = jnp.sum(x**2, axis=1)
  chunk = min(chunk, len(queries))
  indices, distances = [], []
  for start, stop in _chunks(len(queries), chunk):
    q = _pad_rows(queries[start:stop] - mean, chunk)
    qi = _pad_rows(np.asarray(query_index[start:stop]), chunk)
    idx, dist = _knn_block(jnp.asarray(q), jnp.asarray(qi), x, x_sq, k)
    indices.append(np.asarray(idx)[:stop - start])
    distances.append(np.asarray(dist)[:stop - start])
  return np.concatenate(indices).astype(np.int64), np.concatenate(distances)


@functools.partial(jax.jit, static_argnames=("n_groups",))
def _silhouette_block(q, q_rows, x, x_sq, one_hot, q_one_hot, counts, group_of_column,
                      n_groups: int):
  d2 = _block(q, x, x_sq)
  d = jnp.sqrt(d2)
  d = jnp.where(jnp.arange(x.shape[0])[None, :] == q_rows[:, None], 0.0, d)  # exact self = 0
  # [chunk, clusters of all labelings together]
  sums = jnp.matmul(d, one_hot, precision=precision.matmul_precision())
  own = q_one_hot > 0
  # a: mean distance to the own cluster without self; b: smallest mean to another cluster.
  a_parts = jnp.where(own, sums / jnp.maximum(counts[None, :] - 1.0, 1.0), 0.0)
  means = jnp.where(own, jnp.inf, sums / jnp.maximum(counts[None, :], 1.0))
  a = jax.ops.segment_sum(a_parts.T, group_of_column, num_segments=n_groups).T
  b = jax.ops.segment_min(means.T, group_of_column, num_segments=n_groups).T
  own_count = jax.ops.segment_sum(jnp.where(own, counts[None, :], 0.0).T, group_of_column,
                                  num_segments=n_groups).T
  s = (b - a) / jnp.maximum(jnp.maximum(a, b), 1e-30)
  return jnp.where(own_count > 1, s, 0.0)  # sklearn: a point alone in its cluster scores 0


def silhouette_samples(x: np.ndarray, labelings: Sequence[np.ndarray],
                       chunk: int = DEFAULT_CHUNK) -> list[np.ndarray]:
  """Exact per-point silhouettes (sklearn.metrics.silhouette_samples) of each labeling of `x`.

  Every labeling needs 2 <= n_clusters <= N - 1 (the caller returns NaN otherwise).
  """
  x = np.asarray(x, np.float32)
  x = x - x.mean(axis=0, keepdims=True)
  columns, groups = [], []
  for g, labels in enumerate(labelings):
    _, index = np.unique(np.asarray(labels), return_inverse=True)
    n_clusters = index.max() + 1
    if not 2 <= n_clusters <= len(x) - 1:
      raise ValueError(f"labeling {g} has {n_clusters} clusters; silhouette needs 2..N-1")
    columns.append(np.eye(n_clusters, dtype=np.float32)[index])
    groups += [g] * n_clusters
  one_hot = np.concatenate(columns, axis=1)
  counts = jnp.asarray(one_hot.sum(axis=0))
  group_of_column = jnp.asarray(np.asarray(groups, np.int32))
  xj, one_hot_j = jnp.asarray(x), jnp.asarray(one_hot)
  x_sq = jnp.sum(xj**2, axis=1)
  chunk = min(chunk, len(x))
  out = []
  for start, stop in _chunks(len(x), chunk):
    rows = _pad_rows(np.arange(start, stop), chunk)
    s = _silhouette_block(jnp.asarray(x[rows]), jnp.asarray(rows), xj, x_sq, one_hot_j,
                          jnp.asarray(one_hot[rows]), counts, group_of_column, len(labelings))
    out.append(np.asarray(s)[:stop - start])
  values = np.concatenate(out)  # [N, n_labelings]
  return [values[:, g].astype(np.float64) for g in range(len(labelings))]
