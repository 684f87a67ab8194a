"""Permuting the rows of an embedding set leaves every score bit-identical, for every registered
reducer x clusterer (UMAP in the slow suite), and per-row outputs follow the rows
(evaluate/canonical.py)."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import canonical
from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def _set(order=None) -> EmbeddingSet:
  # Overlapping classes, so a different row order would move the seeded steps' partitions.
  x, y = make_blobs(30, n_features=6, centers=3, cluster_std=3.0, random_state=1)
  ids = [f"clip{i:02d}.wav" for i in range(30)]
  order = np.arange(30) if order is None else order
  return EmbeddingSet(x[order], y[order], [ids[i] for i in order], ["a", "b", "c"])


def _same(a, b) -> bool:
  return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


# UMAP's numba compilation costs 20 s to minutes per process: its pairs run in the slow suite,
# beside the other UMAP tests (tests/evaluate/test_evaluator_umap.py).
FAST_REDUCERS = tuple(r for r in reduce_lib.names() if r != "umap")


@pytest.mark.parametrize("reducers", [
    FAST_REDUCERS, pytest.param(("umap",), marks=pytest.mark.slow)])
def test_permuted_rows_give_bit_identical_scores_for_every_pair(reducers):
  evaluator = ClusteringEvaluator(reducers=reducers, clusterers=cluster_lib.names(), seeds=2,
                                  interval_draws=2, umap_n_neighbors=6,
                                  hdbscan_min_cluster_size=4, log=None)
  permutation = np.random.default_rng(0).permutation(30)
  first, second = evaluator.evaluate(_set()), evaluator.evaluate(_set(permutation))
  assert len(first.rows) == len(reducers) * len(cluster_lib.names())
  for a, b in zip(first.rows, second.rows):
    differing = [k for k in a if k != "seconds" and not _same(a[k], b[k])]
    assert not differing, (a["reducer"], a["clusterer"], differing)
  for key, predicted in first.predictions.items():  # back in each caller's own row order
    np.testing.assert_array_equal(predicted[permutation], second.predictions[key])
  for reducer, projected in first.projections.items():
    np.testing.assert_array_equal(projected[permutation], second.projections[reducer])


def test_canonical_order_breaks_repeated_ids_by_label_and_bytes():
  ids = ["b", "a", "a", "a"]
  labels = np.array([0, 1, 0, 0])
  x = np.array([[0.0], [1.0], [3.0], [2.0]], np.float32)
  order = canonical.order(ids, labels, x)
  assert ids[order[-1]] == "b" and labels[order[2]] == 1  # id first, then label
  shuffled = np.array([2, 0, 3, 1])
  again = canonical.order([ids[i] for i in shuffled], labels[shuffled], x[shuffled])
  np.testing.assert_array_equal(x[order], x[shuffled][again])  # same rows, same order
  np.testing.assert_array_equal(canonical.restore(x[order], order), x)
