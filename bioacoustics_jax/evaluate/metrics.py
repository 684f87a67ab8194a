"""Clustering scores: ARI, NMI, AMI, silhouette, Hungarian-matched accuracy.

ARI/NMI/AMI come from sklearn (the library the paper's notebooks used; NMI with sklearn's default
arithmetic normalisation). The silhouette is computed on the ORIGINAL high-dimensional embedding
with the predicted labels, as in the paper, so it measures the embedding and not the 2-D
projection. It is exact (every pair, chunked on the device: evaluate/neighbors.py); a seeded
subsample of `max_points` is only used when a caller asks for one. The accuracy matches predicted clusters to classes one-to-one (Hungarian algorithm on
the contingency table); when there are more clusters than classes the unmatched clusters count as
errors.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from bioacoustics_jax.evaluate import neighbors


def contingency(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
  """[n_classes, n_clusters] counts (rows: true labels, columns: predicted, in sorted order)."""
  _, true_index = np.unique(labels, return_inverse=True)
  _, pred_index = np.unique(predicted, return_inverse=True)
  table = np.zeros((true_index.max() + 1, pred_index.max() + 1), dtype=np.int64)
  np.add.at(table, (true_index, pred_index), 1)
  return table


def hungarian_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
  """Fraction of points whose cluster is matched to their class by the best 1:1 assignment."""
  table = contingency(labels, predicted)
  rows, cols = linear_sum_assignment(table, maximize=True)
  return float(table[rows, cols].sum() / len(labels))


def silhouette_defined(predicted: np.ndarray) -> bool:
  n_clusters = len(np.unique(predicted))
  return 2 <= n_clusters < len(predicted)


def silhouette_subset(n: int, max_points: int | None, seed: int = 42) -> np.ndarray:
  """The points the silhouette is computed on: all, or a seeded sample of `max_points`."""
  if max_points is None or n <= max_points:
    return np.arange(n)
  return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def silhouette(embeddings: np.ndarray, predicted: np.ndarray, seed: int = 42,
               max_points: int | None = None) -> float:
  """Exact silhouette of `predicted` on `embeddings`; NaN when undefined (<2 or N clusters)."""
  predicted = np.asarray(predicted)
  subset = silhouette_subset(len(predicted), max_points, seed)
  if not silhouette_defined(predicted[subset]):
    return math.nan
  values = neighbors.silhouette_samples(np.asarray(embeddings)[subset], [predicted[subset]])[0]
  return float(values.mean())


def clustering_scores(embeddings: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                      seed: int = 42, silhouette_value: float | None = None
                      ) -> dict[str, float | int]:
  """All scores for one clustering of one embedding set (`silhouette_value`: precomputed)."""
  labels = np.asarray(labels)
  predicted = np.asarray(predicted)
  if labels.shape != predicted.shape or labels.ndim != 1:
    raise ValueError(f"labels {labels.shape} and predicted {predicted.shape} must be equal-length "
                     "1-D arrays")
  return {
      "ari": float(skm.adjusted_rand_score(labels, predicted)),
      "nmi": float(skm.normalized_mutual_info_score(labels, predicted)),
      "ami": float(skm.adjusted_mutual_info_score(labels, predicted)),
      "silhouette": (silhouette(embeddings, predicted, seed) if silhouette_value is None
                     else float(silhouette_value)),
      "accuracy": hungarian_accuracy(labels, predicted),
      "n_clusters": int(len(np.unique(predicted))),
  }
