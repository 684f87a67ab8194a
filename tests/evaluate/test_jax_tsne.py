"""The JAX t-SNE (evaluate/jax_tsne.py) against sklearn's: the same affinities and starting layout,
and layouts that keep the same neighbours and clusters; the reducer dispatches on `tsne_impl`."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.manifold import TSNE
from sklearn.manifold import _t_sne
from sklearn.manifold import trustworthiness
from sklearn.metrics import normalized_mutual_info_score

from bioacoustics_jax.evaluate import jax_tsne
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def _blobs(n=90, std=2.0):
  x, y = make_blobs(n, n_features=10, centers=3, cluster_std=std, random_state=3)
  return x.astype(np.float32), y


def test_affinities_equal_sklearns():
  x, _ = _blobs()
  neighbors = int(3 * 10.0 + 1)
  ours = np.asarray(jax_tsne.affinities(x, 10.0, neighbors))
  from sklearn.neighbors import NearestNeighbors
  knn = NearestNeighbors(n_neighbors=neighbors).fit(x)
  graph = knn.kneighbors_graph(mode="distance")
  graph.data **= 2
  theirs = _t_sne._joint_probabilities_nn(graph, 10.0, 0).toarray()
  np.testing.assert_allclose(ours, theirs, atol=2e-6)
  np.testing.assert_allclose(ours.sum(), 1.0, rtol=1e-5)


def test_random_start_is_sklearns():
  x, _ = _blobs()
  start = jax_tsne.initial(x, "random", 7)
  expected = 1e-4 * np.random.RandomState(7).standard_normal((len(x), 2)).astype(np.float32)
  np.testing.assert_array_equal(start, expected)


@pytest.mark.parametrize("init", ["random", "pca"])
def test_layout_agrees_with_sklearn(init):
  # Overlapping classes: both layouts should keep the neighbours (trustworthiness) and score the
  # same k-means NMI, not merely both find three obvious blobs. (The two k-means partitions of
  # the overlap differ as much as two sklearn seeds' do, so they are not compared directly.)
  x, y = _blobs(std=4.0)
  ours = jax_tsne.tsne(x, 10.0, init, 300, "auto", 0)
  theirs = TSNE(2, perplexity=10.0, init=init, max_iter=300, learning_rate="auto",
                random_state=0).fit_transform(x)
  trust = [trustworthiness(x, layout, n_neighbors=5) for layout in (ours, theirs)]
  assert abs(trust[0] - trust[1]) < 0.03, trust
  labels = [KMeans(3, n_init=10, random_state=0).fit_predict(layout) for layout in (ours, theirs)]
  scores = [normalized_mutual_info_score(y, labels[0]), normalized_mutual_info_score(y, labels[1])]
  assert abs(scores[0] - scores[1]) < 0.1, scores


def test_reducer_dispatches_on_tsne_impl():
  x, _ = _blobs(40)
  jax_settings = reduce_lib.ReduceSettings(tsne_perplexity=5.0, tsne_max_iter=260, seed=1)
  np.testing.assert_array_equal(reduce_lib.reduce("tsne", x, jax_settings),
                                jax_tsne.tsne(x, 5.0, "pca", 260, "auto", 1))
  with pytest.raises(ValueError, match="tsne_impl"):
    ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",), tsne_impl="openTSNE", log=None)
  default = ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",), log=None)
  old = ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",), tsne_impl="sklearn",
                            log=None)
  assert default.eval_key != old.eval_key  # JAX rows never share a key with sklearn's
