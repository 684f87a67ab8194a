"""ClusteringEvaluator end to end on blobs and on random labels (UMAP: test_evaluator_umap.py)."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import evaluator as evaluator_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator

REDUCERS = ("pca", "tsne", "none")


def _blobs(n=160, classes=4, dim=32, std=1.0, seed=0) -> EmbeddingSet:
  x, y = make_blobs(n, n_features=dim, centers=classes, cluster_std=std, random_state=seed)
  return EmbeddingSet(x, y, [f"id{i}" for i in range(n)], [f"c{i}" for i in range(classes)],
                      meta=dict(dataset="blobs", model="none", regime="frozen"))


def test_separated_blobs_score_high_with_every_reducer():
  # One seed, no intervals: t-SNE repeated 15 times would cost a minute (seeds: their own tests).
  evaluation = ClusteringEvaluator(reducers=REDUCERS, clusterers=("kmeans",), seeds=1,
                                   interval_draws=0, tsne_perplexity=25,
                                   log=None).evaluate(_blobs())
  assert [(r["reducer"], r["clusterer"]) for r in evaluation.rows] == [
      (name, "kmeans") for name in REDUCERS]
  for row in evaluation.rows:
    assert row["nmi"] > 0.9 and row["ari"] > 0.9, row
    assert row["accuracy"] > 0.9 and row["silhouette"] > 0.3
    assert (row["n"], row["n_classes"], row["n_clusters"], row["embedding_dim"]) == (
        160, 4, 4, 32)
    assert row["seconds"] >= 0
  assert set(evaluation.projections) == {"pca", "tsne"}
  assert evaluation.projections["pca"].shape == (160, 2)


def test_random_labels_score_near_zero():
  es = _blobs()
  es.labels = np.random.default_rng(0).integers(0, 4, len(es))
  rows = ClusteringEvaluator(reducers=("pca", "none"), clusterers=("kmeans", "hdbscan"),
                             log=None).evaluate(es).rows
  assert len(rows) == 4
  for row in rows:
    assert abs(row["ari"]) < 0.05 and row["nmi"] < 0.1 and row["ami"] < 0.05, row


def test_rows_have_the_documented_keys_and_log():
  lines = []
  rows = ClusteringEvaluator(reducers=("none",), clusterers=("hdbscan", "ward"),
                             log=lines.append).evaluate(_blobs(n=60)).rows
  assert all(tuple(row) == evaluator_lib.ROW_KEYS for row in rows)
  assert len(lines) == 2 and "blobs/none/frozen none+hdbscan" in lines[0]


def test_one_class_split_is_not_scored_never_1():
  """4 clips of one class: every metric would read 1.000; they are NaN with the reason."""
  es = _blobs(n=4, classes=1)
  rows = ClusteringEvaluator(reducers=("none", "pca"), clusterers=("kmeans",),
                             log=None).evaluate(es).rows
  assert len(rows) == 2
  for row in rows:
    assert row["status"] == "degenerate" and "one class in split" in row["note"]
    assert all(math.isnan(row[m]) for m in ("ari", "nmi", "ami", "silhouette", "accuracy"))


def test_small_sets_are_scored_and_flagged():
  row = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans",),
                            log=None).evaluate(_blobs(n=8, classes=2)).rows[0]
  assert row["status"] == "small" and "only 8 examples" in row["note"]
  assert not math.isnan(row["nmi"])
  row = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans",),
                            log=None).evaluate(_blobs(n=40, classes=2)).rows[0]
  assert row["status"] == "ok" and row["note"] == ""


def test_bad_inputs_fail_clearly():
  with pytest.raises(KeyError, match="known reducers"):
    ClusteringEvaluator(reducers=("umapp",))
  with pytest.raises(KeyError, match="known clusterers"):
    ClusteringEvaluator(clusterers=("kmean",))
  es = _blobs(n=20)
  es.embeddings[3] = np.nan
  with pytest.raises(ValueError, match="non-finite.*id3"):
    ClusteringEvaluator(reducers=("none",), log=None).evaluate(es)
  row = ClusteringEvaluator(reducers=("none",), log=None).evaluate(_blobs(n=2, classes=2)).rows[0]
  assert row["status"] == "degenerate" and "too few" in row["note"]
