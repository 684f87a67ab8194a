"""The notebook's t-SNE settings as evaluator keys: they reach sklearn unchanged and change the
evaluation key (defaults keep the old key)."""

import numpy as np
from sklearn.manifold import TSNE

from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def test_tsne_settings_are_sklearns():
  x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
  settings = reduce_lib.ReduceSettings(tsne_perplexity=5.0, tsne_init="random",
                                       tsne_max_iter=300, tsne_learning_rate="auto",
                                       tsne_impl="sklearn")
  ours = reduce_lib.reduce("tsne", x, settings)
  theirs = TSNE(n_components=2, perplexity=5.0, init="random", max_iter=300,
                learning_rate="auto", random_state=42).fit_transform(x)
  np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_tsne_settings_change_the_eval_key_only_when_set():
  default = ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",), log=None)
  same = ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",), tsne_init="pca",
                             tsne_max_iter=1000, log=None)
  notebook = ClusteringEvaluator(reducers=("tsne",), clusterers=("kmeans",),
                                 tsne_init="random", tsne_max_iter=5000, log=None)
  assert default.eval_key == same.eval_key != notebook.eval_key
  assert notebook.reduce_settings.tsne_max_iter == 5000
