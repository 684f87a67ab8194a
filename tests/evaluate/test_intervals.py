"""Intervals: bootstrap and repeated-draw intervals cover the true value ~95 % of the time, and
the clustering-interval table formulas equal sklearn's scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from bioacoustics_jax.evaluate import cluster_intervals
from bioacoustics_jax.evaluate import intervals
from bioacoustics_jax.evaluate import metrics
from bioacoustics_jax.evaluate import probe_metrics


def test_bootstrap_interval_covers_true_accuracy_in_simulation():
  # A classifier right with probability 0.8 scored on 150 test examples, 300 times over.
  rng = np.random.default_rng(0)
  covered = 0
  for sim in range(300):
    y = rng.integers(0, 3, 150)
    predicted = np.where(rng.random(150) < 0.8, y, (y + 1) % 3)
    lo, hi = intervals.bootstrap(lambda w: probe_metrics.accuracy(y, predicted, w), 150,
                                 n_boot=200, seed=sim)
    covered += lo <= 0.8 <= hi
  assert 0.90 <= covered / 300 <= 0.99, covered


def test_repeats_interval_covers_true_mean_in_simulation():
  rng = np.random.default_rng(1)
  covered = sum(lo <= 0.6 <= hi for lo, hi in
                (intervals.repeats(rng.normal(0.6, 0.05, 5)) for _ in range(1000)))
  assert 0.93 <= covered / 1000 <= 0.97, covered


def test_degenerate_inputs_give_nan_intervals():
  assert all(math.isnan(v) for v in intervals.repeats([0.5]))
  assert all(math.isnan(v) for v in intervals.bootstrap(lambda w: 1.0, 10, n_boot=0))
  assert intervals.repeats([0.9, 1.0, 1.0], bounds=(0.0, 1.0))[1] == 1.0


def test_table_formulas_equal_sklearn():
  rng = np.random.default_rng(2)
  for n, classes, clusters in ((60, 3, 4), (500, 8, 6), (40, 1, 3)):
    y = rng.integers(0, classes, n)
    predicted = np.where(rng.random(n) < 0.5, y, rng.integers(0, clusters, n))
    table = metrics.contingency(y, predicted)
    assert cluster_intervals.ari_from_table(table) == pytest.approx(
        skm.adjusted_rand_score(y, predicted))
    assert cluster_intervals.nmi_from_table(table) == pytest.approx(
        skm.normalized_mutual_info_score(y, predicted))
    assert cluster_intervals.accuracy_from_table(table) == pytest.approx(
        metrics.hungarian_accuracy(y, predicted))


@pytest.mark.parametrize("n", [400, 8000])  # exact AMI per resample, and the fixed-EMI path
def test_clustering_intervals_bracket_the_scores_and_shrink_with_n(n):
  rng = np.random.default_rng(3)
  y = rng.integers(0, 4, n)
  predicted = np.where(rng.random(n) < 0.7, y, rng.integers(0, 4, n))
  silhouettes = rng.uniform(-0.2, 0.8, n)
  out = cluster_intervals.clustering_intervals(y, predicted, silhouettes, n_boot=100)
  assert set(out) == set(cluster_intervals.INTERVAL_KEYS)
  point = dict(ari=skm.adjusted_rand_score(y, predicted),
               nmi=skm.normalized_mutual_info_score(y, predicted),
               ami=skm.adjusted_mutual_info_score(y, predicted),
               accuracy=metrics.hungarian_accuracy(y, predicted), silhouette=silhouettes.mean())
  for name, value in point.items():
    lo, hi = out[f"{name}_lo"], out[f"{name}_hi"]
    assert lo <= value <= hi, name
    assert hi - lo < (0.2 if n == 400 else 0.05), name
