"""UMAP through the evaluator. Kept in one module: importing umap (numba, and TensorFlow through
its parametric variant) plus the first numba-compiled fit costs ~30-40 s on this 2-core machine;
later fits take ~0.5 s."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator

pytestmark = pytest.mark.slow


def test_umap_blobs_random_labels_and_small_sets():
  x, y = make_blobs(240, n_features=32, centers=4, random_state=0)
  es = EmbeddingSet(x, y, [str(i) for i in range(240)], ["a", "b", "c", "d"])
  evaluator = ClusteringEvaluator(reducers=("umap",), clusterers=("kmeans", "hdbscan"), log=None)
  evaluation = evaluator.evaluate(es)
  kmeans = evaluation.rows[0]
  assert kmeans["nmi"] > 0.9 and kmeans["ari"] > 0.9, kmeans
  assert evaluation.projections["umap"].shape == (240, 2)
  # Seeded: the same projection twice.
  np.testing.assert_allclose(evaluator.evaluate(es).projections["umap"],
                             evaluation.projections["umap"])
  es.labels = np.random.default_rng(0).integers(0, 4, 240)
  for row in evaluator.evaluate(es).rows:
    assert abs(row["ari"]) < 0.05 and row["nmi"] < 0.1, row
  # n_neighbors=50 is clipped to N - 1 on a 20-point set.
  assert reduce_lib.reduce("umap", x[:20]).shape == (20, 2)


def test_umap_fit_on_a_sample_places_every_point():
  x, y = make_blobs(300, n_features=16, centers=3, random_state=1)
  settings = reduce_lib.ReduceSettings(umap_fit_max_points=120, umap_n_neighbors=15)
  projected = reduce_lib.reduce("umap", x, settings)
  assert projected.shape == (300, 2) and np.all(np.isfinite(projected))
  # The transformed points still separate the blobs.
  es = EmbeddingSet(x, y, [str(i) for i in range(300)], ["a", "b", "c"])
  row = ClusteringEvaluator(reducers=("umap",), clusterers=("kmeans",), umap_n_neighbors=15,
                            umap_fit_max_points=120, log=None).evaluate(es).rows[0]
  assert row["nmi"] > 0.9, row
