"""ClusteringEvaluator's new options: the JAX backend, interval columns, exact silhouette, and
the probe tasks it hosts (evaluate_probes / needs_train)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import evaluator as evaluator_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def _blobs(n=200, classes=4, dim=24, std=1.5, seed=0) -> EmbeddingSet:
  x, y = make_blobs(n, n_features=dim, centers=classes, cluster_std=std, random_state=seed)
  return EmbeddingSet(x, y, [f"id{i}" for i in range(n)], [f"c{i}" for i in range(classes)],
                      meta=dict(dataset="blobs", model="none", regime="frozen"))


def test_jax_backend_gives_the_sklearn_rows_on_separated_blobs():
  es = _blobs()
  kwargs = dict(reducers=("pca", "none"), clusterers=("kmeans",), seeds=2, interval_draws=0,
                log=None)
  ours = ClusteringEvaluator(backend="jax", **kwargs).evaluate(es)
  theirs = ClusteringEvaluator(backend="sklearn", **kwargs).evaluate(es)
  for a, b in zip(ours.rows, theirs.rows):
    for key in ("ari", "nmi", "ami", "accuracy", "silhouette", "n_clusters"):
      assert a[key] == pytest.approx(b[key], abs=1e-5), key
  np.testing.assert_allclose(ours.projections["pca"], theirs.projections["pca"], atol=1e-3)
  with pytest.raises(ValueError, match="backend"):
    ClusteringEvaluator(backend="torch")


def test_silhouette_is_exact_and_interval_columns_are_opt_in():
  es = _blobs(n=150)
  plain = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans", "ward"), log=None)
  rows = plain.evaluate(es).rows
  assert all(tuple(r) == evaluator_lib.ROW_KEYS for r in rows)
  with_intervals = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans", "ward"),
                                       cluster_intervals=True, n_boot=100, log=None)
  for row in with_intervals.evaluate(es).rows:
    assert tuple(row) == evaluator_lib.ROW_KEYS + evaluator_lib.INTERVAL_KEYS
    for metric in ("ari", "nmi", "ami", "silhouette", "accuracy"):
      assert row[f"{metric}_lo"] <= row[metric] <= row[f"{metric}_hi"], metric
  # Exact silhouette of the row's own clustering (sklearn recomputed on the same labels).
  from sklearn.cluster import AgglomerativeClustering
  ward = AgglomerativeClustering(n_clusters=4, linkage="ward").fit_predict(es.embeddings)
  assert rows[1]["silhouette"] == pytest.approx(skm.silhouette_score(es.embeddings, ward),
                                                abs=1e-5)


def test_probes_through_the_evaluator():
  train, test = _blobs(seed=0), _blobs(n=120, seed=0)
  test = EmbeddingSet(test.embeddings + 0.01, test.labels, test.ids, test.label_names, test.meta)
  evaluator = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans",), log=None,
                                  probes=("linear_probe", "knn"), knn_ks=(1, 5), n_boot=20)
  assert evaluator.needs_train
  rows = evaluator.evaluate_probes(train, test)
  assert {(r["task"], r["setting"], r["metric"]) for r in rows} == {
      ("linear_probe", "", "accuracy"), ("linear_probe", "", "macro_f1"),
      ("knn", "k=1", "precision_at_k"), ("knn", "k=5", "precision_at_k"),
      ("knn", "R<=1000", "map_at_r")}
  assert all(r["value"] > 0.9 for r in rows)
  assert tuple(rows[0]) == evaluator_lib.PROBE_ROW_KEYS
  nothing = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans",), log=None)
  assert not nothing.needs_train and nothing.evaluate_probes(None, test) == []
  knn_only = ClusteringEvaluator(reducers=("none",), clusterers=("kmeans",), probes=("knn",),
                                 log=None)
  assert not knn_only.needs_train
