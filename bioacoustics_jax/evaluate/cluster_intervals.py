"""95 % bootstrap intervals for the clustering scores of one final clustering.

Mechanism: the percentile bootstrap over examples (evaluate/intervals.py) with the clustering
fixed. Resampling examples is resampling the cells of the class x cluster contingency table, so
each resample is one weighted bincount, and ARI, NMI and Hungarian accuracy are computed from the
resampled table in O(classes x clusters) (formulas checked against sklearn in the tests). AMI's
expected mutual information (EMI) depends only on the table's margins; it is recovered once from
sklearn's AMI of the full sample (EMI = (MI - AMI H) / (1 - AMI), H the mean entropy) and held
fixed over resamples, whose margins move by O(1/sqrt(N)) (EMI itself is O(classes x clusters /
N)), so every resample's AMI is O(table) too instead of sklearn's 0.1 s EMI at 100,000 points.
Below AMI_EXACT_MAX_N points, where EMI is large and moves with the margins, sklearn's exact AMI
is recomputed on every resample (cheap there).
The silhouette interval resamples the exact per-point silhouettes (evaluate/neighbors.py).
The interval says how much a score would move on another sample of the same size; the variance
of the clustering itself (seeds) is what the seed repeats measure.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from bioacoustics_jax.evaluate import intervals

SCORES = ("ari", "nmi", "ami", "silhouette", "accuracy")
AMI_EXACT_MAX_N = 5000
INTERVAL_KEYS = tuple(f"{s}_{end}" for s in SCORES for end in ("lo", "hi"))


def _comb2(x: np.ndarray) -> np.ndarray:
  return x * (x - 1) / 2.0


def ari_from_table(table: np.ndarray) -> float:
  n = table.sum()
  a, b = table.sum(axis=1), table.sum(axis=0)
  a, b = a[a > 0], b[b > 0]
  index = _comb2(table).sum()
  sum_a, sum_b = _comb2(a).sum(), _comb2(b).sum()
  expected = sum_a * sum_b / _comb2(n)
  maximum = (sum_a + sum_b) / 2.0
  if len(a) == len(b) == 1 or maximum == expected:
    return 1.0  # sklearn: identical trivial partitions
  return float((index - expected) / (maximum - expected))


def _entropy(counts: np.ndarray) -> float:
  p = counts[counts > 0] / counts.sum()
  return float(-(p * np.log(p)).sum())


def nmi_from_table(table: np.ndarray) -> float:
  """Arithmetic-mean NMI (sklearn's default) from a contingency table."""
  a, b = table.sum(axis=1), table.sum(axis=0)
  if (a > 0).sum() == (b > 0).sum() == 1:
    return 1.0
  n = table.sum()
  nz = table > 0
  outer = np.outer(a, b)
  mi = float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())
  normaliser = (_entropy(a) + _entropy(b)) / 2.0
  return max(0.0, mi) / normaliser if normaliser > 0 else 1.0


def mutual_info_from_table(table: np.ndarray) -> tuple[float, float]:
  """(MI in nats, mean of the two entropies) of a contingency table."""
  a, b = table.sum(axis=1), table.sum(axis=0)
  n = table.sum()
  nz = table > 0
  mi = float((table[nz] / n * np.log(table[nz] * n / np.outer(a, b)[nz])).sum())
  return mi, (_entropy(a) + _entropy(b)) / 2.0


def accuracy_from_table(table: np.ndarray) -> float:
  rows, cols = linear_sum_assignment(table, maximize=True)
  return float(table[rows, cols].sum() / table.sum())


def clustering_intervals(labels: np.ndarray, predicted: np.ndarray,
                         silhouettes: np.ndarray | None, n_boot: int = intervals.DEFAULT_N_BOOT,
                         seed: int = 0, scores: tuple[str, ...] = SCORES) -> dict[str, float]:
  """{score_lo, score_hi for score in `scores`}; NaN where a score is undefined (no
  silhouette). Asking for fewer scores (e.g. ("nmi", "ari") for report.html) skips the rest."""
  _, true_index = np.unique(labels, return_inverse=True)
  _, pred_index = np.unique(predicted, return_inverse=True)
  n_true, n_pred = true_index.max() + 1, pred_index.max() + 1
  cell = true_index * n_pred + pred_index

  cache = {}

  def table(weights):
    # The stats of one resample share its table (bootstrap_many calls them in turn).
    if weights is None or cache.get("weights") is not weights:
      cache["weights"] = weights
      cache["table"] = np.bincount(cell, weights=weights, minlength=n_true * n_pred).reshape(
          n_true, n_pred)
    return cache["table"]

  if "ami" in scores:
    ami = float(skm.adjusted_mutual_info_score(labels, predicted))
    mi, mean_h = mutual_info_from_table(table(None))
    emi = (mi - ami * mean_h) / (1.0 - ami) if ami < 1.0 else math.nan

  def ami_of(weights):
    if len(cell) <= AMI_EXACT_MAX_N:
      return float(skm.adjusted_mutual_info_score(np.repeat(true_index, weights),
                                                  np.repeat(pred_index, weights)))
    if math.isnan(emi):
      return 1.0
    mi_b, mean_h_b = mutual_info_from_table(table(weights))
    denominator = mean_h_b - emi
    return (mi_b - emi) / denominator if abs(denominator) > 1e-15 else math.nan

  stats = {"ari": lambda w: ari_from_table(table(w)), "nmi": lambda w: nmi_from_table(table(w)),
           "ami": ami_of, "accuracy": lambda w: accuracy_from_table(table(w))}
  if silhouettes is not None:
    s = np.asarray(silhouettes, np.float64)
    stats["silhouette"] = lambda w: float(np.dot(w, s) / w.sum())
  stats = {name: stat for name, stat in stats.items() if name in scores}
  out = intervals.bootstrap_many(stats, len(cell), n_boot, seed)
  out.setdefault("silhouette", (math.nan, math.nan))
  return {f"{s}_{end}": out[s][i] for s in scores for i, end in enumerate(("lo", "hi"))}
