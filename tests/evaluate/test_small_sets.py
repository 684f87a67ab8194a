"""Sets smaller than a setting needs: every reducer x clusterer runs, and the row says what was
adapted (evaluate/small_sets.py). The reported crash was UMAP's spectral init on a 3-clip split."""

import numpy as np
import pytest

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate import small_sets
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


@pytest.mark.parametrize("reducers", [  # UMAP's compilation: slow suite (test_order_invariance)
    ("none", "pca", "tsne"), pytest.param(("umap",), marks=pytest.mark.slow)])
def test_three_and_five_clip_sets_run_every_pair_with_notes(reducers):
  evaluator = ClusteringEvaluator(reducers=reducers, clusterers=cluster_lib.names(), seeds=1,
                                  log=None)
  rng = np.random.default_rng(0)
  for labels in ([0, 1, 2], [0, 0, 1, 1, 2]):
    n = len(labels)
    es = EmbeddingSet(rng.standard_normal((n, 16)), labels, [f"c{i}" for i in range(n)],
                      ["a", "b", "c"])
    rows = {(r["reducer"], r["clusterer"]): r for r in evaluator.evaluate(es).rows}
    assert all(r["status"] == "small" and np.isfinite(r["nmi"]) for r in rows.values())
    if "umap" in reducers:
      note = rows["umap", "kmeans"]["note"]
      assert f"umap n_neighbors 50 -> {max(2, n - 1)}" in note
      assert ("init spectral -> random" in note) == (n == 3)
      continue
    assert "tsne perplexity 25" in rows["tsne", "ward"]["note"]
    assert "hdbscan min_cluster_size 10 -> 2" in rows["pca", "hdbscan"]["note"]
    assert "pca components" not in rows["pca", "gmm"]["note"]


def test_rules_state_each_change():
  reduce_settings, notes = small_sets.reducer_settings("pca", 5, 1, reduce_lib.ReduceSettings())
  assert reduce_settings.pca_dim == 1 and notes == ["pca components 2 -> 1 (5 x 1 input)"]
  _, k, notes = small_sets.clusterer_settings("kmeans", 4, 6, cluster_lib.ClusterSettings())
  assert k == 4 and notes == ["kmeans k 6 -> 4 (4 points)"]
  unchanged, notes = small_sets.reducer_settings("umap", 500, 8, reduce_lib.ReduceSettings())
  assert unchanged == reduce_lib.ReduceSettings() and notes == []
