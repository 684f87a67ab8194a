"""evaluate.seeds: reduce + cluster repeated over seeds, scores are the seed means with their sd."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def _overlapping_blobs() -> EmbeddingSet:
  # Overlapping classes: k-means' seed changes the partition, so the spread is not zero.
  x, y = make_blobs(90, n_features=8, centers=3, cluster_std=6.0, random_state=0)
  return EmbeddingSet(x, y, [f"id{i}" for i in range(90)], ["a", "b", "c"],
                      meta=dict(dataset="blobs", model="none", regime="frozen"))


def test_seed_means_and_spread():
  es = _overlapping_blobs()
  settings = dict(reducers=("none",), clusterers=("gmm",), log=None)
  rows = ClusteringEvaluator(seeds=3, seed=7, **settings).evaluate(es).rows
  singles = [ClusteringEvaluator(seed=s, seeds=1, **settings).evaluate(es).rows[0] for s in (7, 8, 9)]
  (row,) = rows
  assert row["n_seeds"] == 3 and all(s["n_seeds"] == 1 for s in singles)
  for score in ("nmi", "ari"):
    values = [s[score] for s in singles]
    assert row[score] == pytest.approx(np.mean(values), abs=1e-12)
    assert row[f"{score}_sd"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert math.isnan(singles[0][f"{score}_sd"])
  assert row["nmi_sd"] > 0  # GMM's seed moves the partition of overlapping classes
  one = ClusteringEvaluator(seed=7, seeds=1, **settings)
  assert ClusteringEvaluator(seeds=3, seed=7, **settings).eval_key != one.eval_key
  with pytest.raises(ValueError, match="seeds"):
    ClusteringEvaluator(seeds=0, **settings)
