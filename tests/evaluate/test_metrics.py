"""Metrics against sklearn, and Hungarian accuracy against brute force over permutations."""

import itertools
import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.metrics.cluster import contingency_matrix

from bioacoustics_jax.evaluate import metrics


def _brute_force_accuracy(labels, predicted) -> float:
  classes, clusters = np.unique(labels), np.unique(predicted)
  best = 0
  # Every injective map of the smaller side into the larger one.
  if len(clusters) <= len(classes):
    for perm in itertools.permutations(classes, len(clusters)):
      mapping = dict(zip(clusters, perm))
      best = max(best, sum(mapping[p] == t for t, p in zip(labels, predicted)))
  else:
    for perm in itertools.permutations(clusters, len(classes)):
      mapping = dict(zip(perm, classes))
      best = max(best, sum(mapping.get(p) == t for t, p in zip(labels, predicted)))
  return best / len(labels)


@pytest.mark.parametrize("n_classes,n_clusters,seed", [
    (3, 3, 0), (4, 2, 1), (2, 5, 2), (5, 5, 3), (3, 4, 4), (1, 3, 5)])
def test_hungarian_accuracy_matches_brute_force(n_classes, n_clusters, seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, n_classes, 40) + 7  # label values need not start at 0
  predicted = np.where(rng.random(40) < 0.6, labels % n_clusters, rng.integers(0, n_clusters, 40))
  predicted[predicted == 0] = -1  # HDBSCAN noise is just another cluster id
  assert metrics.hungarian_accuracy(labels, predicted) == pytest.approx(
      _brute_force_accuracy(labels, predicted))


def test_perfect_and_relabelled_clusterings_score_one():
  labels = np.repeat(np.arange(4), 10)
  scores = metrics.clustering_scores(np.eye(40), labels, (labels + 1) % 4 * 10)
  assert scores["ari"] == pytest.approx(1.0)
  assert scores["nmi"] == pytest.approx(1.0)
  assert scores["accuracy"] == 1.0
  assert scores["n_clusters"] == 4


def test_scores_match_sklearn():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((120, 6))
  labels = rng.integers(0, 4, 120)
  predicted = np.where(rng.random(120) < 0.5, labels, rng.integers(-1, 5, 120))
  scores = metrics.clustering_scores(x, labels, predicted)
  assert scores["ari"] == pytest.approx(skm.adjusted_rand_score(labels, predicted))
  assert scores["nmi"] == pytest.approx(skm.normalized_mutual_info_score(labels, predicted))
  assert scores["ami"] == pytest.approx(skm.adjusted_mutual_info_score(labels, predicted))
  assert scores["silhouette"] == pytest.approx(skm.silhouette_score(x, predicted))
  np.testing.assert_array_equal(metrics.contingency(labels, predicted),
                                contingency_matrix(labels, predicted))


def test_silhouette_undefined_is_nan():
  x = np.random.default_rng(0).standard_normal((10, 3))
  assert math.isnan(metrics.silhouette(x, np.zeros(10, int)))
  assert math.isnan(metrics.silhouette(x, np.arange(10)))


def test_silhouette_is_exact_and_subsamples_only_when_asked():
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(0, 1, (100, 3)), rng.normal(3, 1, (100, 3))])
  predicted = np.repeat([0, 1], 100)
  assert metrics.silhouette(x, predicted) == pytest.approx(skm.silhouette_score(x, predicted),
                                                           abs=1e-6)
  assert metrics.silhouette(x, predicted, max_points=50) == pytest.approx(
      skm.silhouette_score(x, predicted), abs=0.1)


def test_shape_mismatch_is_an_error():
  with pytest.raises(ValueError, match="equal-length"):
    metrics.clustering_scores(np.zeros((3, 2)), np.zeros(3), np.zeros(4))
