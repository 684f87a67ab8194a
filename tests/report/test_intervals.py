"""The bootstrap's scores are sklearn's NMI/ARI, and its interval brackets the point estimate."""

import numpy as np
import pytest
from sklearn import metrics as skm

from bioacoustics_jax.report import intervals


@pytest.mark.parametrize("seed", range(4))
def test_scores_match_sklearn_including_weighted_resamples(seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 5, 300)
  predicted = np.where(rng.random(300) < 0.6, labels, rng.integers(-1, 7, 300))
  got = intervals.scores(labels, predicted)
  assert got["nmi"] == pytest.approx(skm.normalized_mutual_info_score(labels, predicted), abs=1e-12)
  assert got["ari"] == pytest.approx(skm.adjusted_rand_score(labels, predicted), abs=1e-12)
  index = rng.integers(0, 300, 300)  # a resample == integer weights
  weights = np.bincount(index, minlength=300).astype(float)
  got = intervals.scores(labels, predicted, weights)
  assert got["nmi"] == pytest.approx(
      skm.normalized_mutual_info_score(labels[index], predicted[index]), abs=1e-12)
  assert got["ari"] == pytest.approx(skm.adjusted_rand_score(labels[index], predicted[index]),
                                     abs=1e-12)


def test_trivial_partitions_follow_sklearn():
  same = np.zeros(10, int)
  assert intervals.scores(same, same) == {"nmi": 1.0, "ari": 1.0}
  assert intervals.scores(same, np.arange(10))["nmi"] == pytest.approx(
      skm.normalized_mutual_info_score(same, np.arange(10)))


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_n():
  rng = np.random.default_rng(0)
  widths = []
  for n in (100, 2000):
    labels = rng.integers(0, 4, n)
    predicted = np.where(rng.random(n) < 0.7, labels, rng.integers(0, 4, n))
    point = intervals.scores(labels, predicted)
    box = intervals.bootstrap(labels, predicted, n_resamples=100)
    for name in ("nmi", "ari"):
      low, high = box[name]
      assert low <= point[name] <= high
    widths.append(box["nmi"][1] - box["nmi"][0])
  assert widths[1] < widths[0] / 2
