"""JAX PCA, k-means, kNN and exact silhouette against sklearn on small sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from bioacoustics_jax.evaluate import jax_kmeans
from bioacoustics_jax.evaluate import jax_pca
from bioacoustics_jax.evaluate import neighbors


def _blobs(n=300, dim=16, centers=4, std=2.0, seed=0):
  x, y = make_blobs(n, n_features=dim, centers=centers, cluster_std=std, random_state=seed)
  return x.astype(np.float32), y


@pytest.mark.parametrize("n,dim,k", [(300, 16, 2), (300, 16, 5), (40, 64, 3)])
def test_pca_equals_sklearn(n, dim, k):
  # Anisotropic data: distinct variances give well-defined components (a fair 1e-5 test).
  rng = np.random.default_rng(n + dim)
  x = (rng.standard_normal((n, dim)) * np.linspace(3.0, 0.1, dim)).astype(np.float32) + 5.0
  ours = jax_pca.pca_fit_transform(x, k)
  # sklearn on float64: its own float32 run is further from the exact answer than ours (1e-4).
  theirs = PCA(n_components=k).fit_transform(x.astype(np.float64))
  assert ours.shape == theirs.shape
  np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())


# rel: 1e-5 is float32 rounding. The last case is 3 blobs that overlap into one cloud, where
# both libraries land in local optima 5e-5 apart depending on the seed (sklearn's own seeds
# 0-3 give 296356 and 296370; ours 296356-296372), so there "<=" holds to 1e-4.
@pytest.mark.parametrize("seed,std,k,rel", [(0, 1.0, 4, 1e-5), (1, 3.0, 4, 1e-5),
                                            (2, 5.0, 6, 1e-5), (3, 8.0, 3, 1e-4)])
def test_kmeans_objective_at_most_sklearns(seed, std, k, rel):
  x, _ = _blobs(std=std, seed=seed, centers=k)
  labels, inertia = jax_kmeans.kmeans(x, k, n_init=10, seed=seed)
  reference = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x.astype(np.float64))
  assert inertia <= reference.inertia_ * (1 + rel)
  # The returned inertia is the labels' own objective.
  centres = np.stack([x[labels == c].mean(axis=0) for c in np.unique(labels)])
  recomputed = sum(((x[labels == c] - centres[i]) ** 2).sum()
                   for i, c in enumerate(np.unique(labels)))
  assert inertia == pytest.approx(recomputed, rel=1e-4)
  if std <= 1.0:
    assert skm.adjusted_rand_score(labels, reference.labels_) == 1.0


def test_knn_identical_to_sklearn():
  x, _ = _blobs(n=257, dim=12)  # not a multiple of the chunk: the padded last chunk is dropped
  idx, dist = neighbors.knn(x, 7, chunk=64)
  ref_dist, ref_idx = NearestNeighbors(n_neighbors=8).fit(x).kneighbors(x)
  np.testing.assert_array_equal(idx, ref_idx[:, 1:])
  np.testing.assert_allclose(dist, ref_dist[:, 1:], rtol=1e-4, atol=1e-4)
  queries = x[:5] + 0.01
  idx, _ = neighbors.knn(x, 3, queries=queries)
  np.testing.assert_array_equal(idx, NearestNeighbors(n_neighbors=3).fit(x).kneighbors(
      queries)[1])


def test_exact_silhouette_equals_sklearn_for_several_labelings_in_one_pass():
  x, y = _blobs(n=203, dim=10, std=4.0)
  other = np.random.default_rng(0).integers(0, 3, len(x))
  other[0] = 7  # a singleton cluster scores 0, as in sklearn
  ours = neighbors.silhouette_samples(x, [y, other], chunk=50)
  for labels, values in zip([y, other], ours):
    np.testing.assert_allclose(values, skm.silhouette_samples(x, labels), atol=1e-5)
  assert ours[1][0] == 0.0
