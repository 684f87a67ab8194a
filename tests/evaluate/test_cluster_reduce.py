"""Clusterers and reducers: sklearn objectives, clipping on tiny sets, registries."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib


def _objective(points, predicted) -> float:
  return float(sum(((points[predicted == c] - points[predicted == c].mean(0)) ** 2).sum()
                   for c in np.unique(predicted)))


def test_kmeans_objective_equals_sklearn():
  points, _ = make_blobs(200, n_features=5, centers=6, cluster_std=3.0, random_state=1)
  ours = cluster_lib.cluster("kmeans", points, 6)
  reference = KMeans(n_clusters=6, n_init=10, random_state=42).fit(points)
  assert _objective(points, ours) == pytest.approx(reference.inertia_, rel=1e-6)


@pytest.mark.parametrize("name", ["kmeans", "gmm", "ward", "hdbscan"])
def test_clusterers_find_separated_blobs(name):
  points, labels = make_blobs(150, n_features=2, centers=3, cluster_std=0.5, random_state=0)
  predicted = cluster_lib.cluster(name, points, 3)
  assert predicted.shape == (150,) and predicted.dtype == np.int64
  # Every true blob maps to (mostly) one predicted cluster.
  for c in range(3):
    values, counts = np.unique(predicted[labels == c], return_counts=True)
    assert counts.max() >= 0.9 * (labels == c).sum()


def test_gmm_uses_diagonal_covariance_in_high_dimension():
  points, _ = make_blobs(60, n_features=64, centers=3, random_state=0)
  assert len(np.unique(cluster_lib.cluster("gmm", points, 3))) == 3


def test_tiny_sets_are_clipped():
  points = np.random.default_rng(0).standard_normal((6, 3))
  assert len(np.unique(cluster_lib.cluster("kmeans", points, 10))) == 6  # k clipped to N
  assert cluster_lib.cluster("hdbscan", points, 2).shape == (6,)  # min_cluster_size clipped
  x = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
  assert reduce_lib.reduce("tsne", x).shape == (12, 2)  # perplexity clipped below N
  assert reduce_lib.reduce("pca", x[:, :1]).shape == (12, 1)


def test_reducers_shapes_and_determinism():
  x, _ = make_blobs(40, n_features=10, centers=3, random_state=0)
  np.testing.assert_array_equal(reduce_lib.reduce("none", x), x.astype(np.float32))
  pca = reduce_lib.reduce("pca", x)
  assert pca.shape == (40, 2) and pca.dtype == np.float32
  settings = reduce_lib.ReduceSettings(tsne_perplexity=8)
  np.testing.assert_allclose(reduce_lib.reduce("tsne", x, settings),
                             reduce_lib.reduce("tsne", x, settings))


def test_registries_name_the_known_ones():
  assert {"umap", "pca", "tsne", "none"} <= set(reduce_lib.names())
  assert {"kmeans", "hdbscan", "gmm", "ward"} <= set(cluster_lib.names())
  with pytest.raises(KeyError, match="known reducers.*pca"):
    reduce_lib.get_reducer("lda")
  with pytest.raises(KeyError, match="known clusterers.*kmeans"):
    cluster_lib.get_clusterer("dbscan")
  with pytest.raises(ValueError, match="already registered"):
    cluster_lib.register_clusterer("kmeans")(lambda p, k, s: p)
  with pytest.raises(ValueError, match="N >= 3"):
    reduce_lib.reduce("pca", np.zeros((2, 4)))
