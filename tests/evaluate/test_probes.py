"""Linear probe, kNN retrieval and few-shot: against sklearn / brute force, rising from random
to separated embeddings, and skipped with a reason when they cannot mean anything."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import linear_probe
from bioacoustics_jax.evaluate import retrieval
from bioacoustics_jax.evaluate.probe_evaluator import PROBE_ROW_KEYS
from bioacoustics_jax.evaluate.probe_evaluator import ProbeEvaluator

CLASSES = 4


def _split(n, spread, seed, dim=12, targets=False):
  # Fixed class means that differ in every dimension (z-scoring then amplifies no pure-noise
  # dimension); `spread` is the within-class std (large: no structure).
  centres = np.random.default_rng(123).standard_normal((CLASSES, dim)) * 2.0
  x, y = make_blobs(n, n_features=dim, centers=centres, cluster_std=spread, random_state=seed)
  names = [f"c{i}" for i in range(CLASSES)]
  if not targets:
    return EmbeddingSet(x, y, [str(i) for i in range(n)], names)
  # Detection-like: label 0 = background, multi-hot over the 3 other classes.
  multi_hot = np.eye(CLASSES)[y][:, 1:]
  return EmbeddingSet(x, y, [str(i) for i in range(n)], ["background"] + names[1:],
                      targets=multi_hot)


def _value(rows, task, metric, setting=None):
  matches = [r for r in rows if r["task"] == task and r["metric"] == metric
             and (setting is None or r["setting"] == setting)]
  assert len(matches) == 1, (task, metric, setting, rows)
  return matches[0]


def test_linear_probe_matches_sklearn_logistic_regression():
  train, test = _split(400, 3.0, 0), _split(200, 3.0, 1)
  ours = linear_probe.LinearProbe().fit(train.embeddings, train.labels, multilabel=False)
  scaler = StandardScaler().fit(train.embeddings)
  reference = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(train.embeddings),
                                                           train.labels)
  agree = np.mean(ours.scores(test.embeddings).argmax(axis=1)
                  == reference.predict(scaler.transform(test.embeddings)))
  assert agree >= 0.98
  np.testing.assert_allclose(ours.params["w"], reference.coef_.T, atol=5e-3)


def test_multilabel_probe_matches_one_vs_rest_sklearn():
  train, test = _split(400, 3.0, 0, targets=True), _split(200, 3.0, 1, targets=True)
  ours = linear_probe.LinearProbe().fit(train.embeddings, train.targets, multilabel=True)
  scaler = StandardScaler().fit(train.embeddings)
  for c in range(train.targets.shape[1]):
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(
        scaler.transform(train.embeddings), train.targets[:, c])
    agree = np.mean((ours.scores(test.embeddings)[:, c] > 0)
                    == reference.predict(scaler.transform(test.embeddings)))
    assert agree >= 0.98


def test_retrieval_equals_brute_force():
  es = _split(150, 2.5, 2)
  x, y = es.embeddings, es.labels
  result = retrieval.retrieval_scores(x, y, ks=(1, 5), r_max=10_000, chunk=64)
  _, order = NearestNeighbors(n_neighbors=len(x)).fit(x).kneighbors(x)
  order = order[:, 1:]  # drop self
  relevant = y[order] == y[:, None]
  for k in (1, 5):
    np.testing.assert_allclose(result.precision_at[k], relevant[:, :k].mean(axis=1))
  r = np.bincount(y)[y] - 1
  ap = [np.sum(rel[:ri] * np.cumsum(rel[:ri]) / np.arange(1, ri + 1)) / ri
        for rel, ri in zip(relevant, r)]
  np.testing.assert_allclose(result.ap_at_r, ap, atol=1e-12)


def test_scores_rise_from_random_to_separated():
  evaluator = ProbeEvaluator(fewshot_shots=(1, 5), fewshot_draws=3, n_boot=50, log=None)
  noise = evaluator.evaluate(_split(300, 60.0, 0), _split(200, 60.0, 1))
  clean = evaluator.evaluate(_split(300, 0.5, 0), _split(200, 0.5, 1))
  assert all(tuple(r) == PROBE_ROW_KEYS and not r["skipped"] for r in noise + clean)
  chance = 1.0 / CLASSES
  for task, metric, setting in (("linear_probe", "accuracy", ""), ("linear_probe", "macro_f1", ""),
                                ("knn", "precision_at_k", "k=1"),
                                ("knn", "precision_at_k", "k=20"),
                                ("knn", "map_at_r", "R<=1000"), ("fewshot", "accuracy", "n=1"),
                                ("fewshot", "accuracy", "n=5")):
    low, high = _value(noise, task, metric, setting), _value(clean, task, metric, setting)
    assert low["value"] < chance + 0.15 and high["value"] > 0.95, (task, metric, setting)
    assert high["lo"] <= high["value"] <= high["hi"] and low["lo"] <= low["value"] <= low["hi"]


def test_detection_sets_report_map_on_the_multi_hot_targets():
  rows = ProbeEvaluator(tasks=("linear_probe", "fewshot"), fewshot_shots=(5,), fewshot_draws=2,
                        n_boot=20, log=None).evaluate(_split(300, 0.5, 0, targets=True),
                                                      _split(200, 0.5, 1, targets=True))
  assert {(r["task"], r["metric"]) for r in rows} == {
      (t, m) for t in ("linear_probe", "fewshot") for m in ("map", "macro_f1")}
  assert _value(rows, "linear_probe", "map")["value"] > 0.95


def test_probes_that_cannot_mean_anything_are_skipped_with_a_reason():
  test = _split(120, 1.0, 1)
  evaluator = ProbeEvaluator(fewshot_shots=(1, 50), fewshot_draws=2, n_boot=10, log=None)
  rows = evaluator.evaluate(None, test)
  assert evaluator.needs_train
  for r in rows:
    if r["task"] == "knn":
      assert not r["skipped"] and not math.isnan(r["value"])
    else:
      assert r["skipped"] == "no train split" and math.isnan(r["value"])
  train = _split(120, 1.0, 0)
  keep = train.labels != 3
  partial = EmbeddingSet(train.embeddings[keep], train.labels[keep],
                         [i for i, k in zip(train.ids, keep) if k], train.label_names)
  rows = evaluator.evaluate(partial, test)
  linear = [r for r in rows if r["task"] != "knn"]
  assert linear and all("absent from train: ['c3']" in r["skipped"] for r in linear)
  rows = evaluator.evaluate(train, test)
  assert all(not r["skipped"] for r in rows if r["setting"] != "n=50")
  assert all("fewer than 50 train examples" in r["skipped"] and math.isnan(r["value"])
             for r in rows if r["setting"] == "n=50")
  assert not ProbeEvaluator(tasks=("knn",)).needs_train
  with pytest.raises(KeyError, match="known"):
    ProbeEvaluator(tasks=("linear",))
