"""Bootstrap intervals for NMI and ARI over clips, from saved true labels and predicted clusters.

evaluate/ scores one clustering of one test split; how much of a gap between two models is luck
of the split? Resampling clips (with replacement) and re-scoring the fixed clustering gives a
95% percentile interval. Each resample is a weighted contingency table (one bincount), so a
10k-clip set takes ~0.1 s for 200 resamples; the formulas are sklearn's (arithmetic-mean NMI,
ARI from pair counts), checked against sklearn in tests/report/test_intervals.py.
"""

from __future__ import annotations

import numpy as np

N_RESAMPLES = 200


def _nmi(table: np.ndarray) -> float:
  n = table.sum()
  rows, cols = table.sum(1), table.sum(0)
  h_true = _entropy(rows / n)
  h_pred = _entropy(cols / n)
  if h_true == 0.0 or h_pred == 0.0:  # sklearn: 1.0 if both are one group, else 0.0
    return 1.0 if h_true == h_pred else 0.0
  nz = table > 0
  p = table[nz] / n
  outer = np.outer(rows, cols)[nz] / (n * n)
  mi = float(np.sum(p * np.log(p / outer)))
  return max(0.0, mi / ((h_true + h_pred) / 2.0))


def _entropy(p: np.ndarray) -> float:
  p = p[p > 0]
  return float(-np.sum(p * np.log(p)))


def _ari(table: np.ndarray) -> float:
  def pairs(x):
    x = x.astype(np.float64)
    return float(np.sum(x * (x - 1) / 2.0))
  n = table.sum()
  index = pairs(table)
  a, b = pairs(table.sum(1)), pairs(table.sum(0))
  total = n * (n - 1) / 2.0
  expected = a * b / total if total else 0.0
  maximum = (a + b) / 2.0
  if maximum == expected:  # sklearn's special case: identical trivial partitions
    return 1.0
  return (index - expected) / (maximum - expected)


def scores(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None
           ) -> dict[str, float]:
  """NMI and ARI of one clustering; `weights` [N] are per-clip repeat counts (a resample)."""
  _, t = np.unique(labels, return_inverse=True)
  _, p = np.unique(predicted, return_inverse=True)
  k = p.max() + 1
  table = np.bincount(t * k + p, weights=weights, minlength=(t.max() + 1) * k)
  table = table.reshape(t.max() + 1, k)
  table = table[table.sum(1) > 0][:, table.sum(0) > 0]  # resampling can drop a class or cluster
  return {"nmi": _nmi(table), "ari": _ari(table)}


def bootstrap(labels: np.ndarray, predicted: np.ndarray, n_resamples: int = N_RESAMPLES,
              seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
  """{"nmi": (low, high), "ari": (low, high)}: percentile intervals over clip resamples."""
  labels, predicted = np.asarray(labels), np.asarray(predicted)
  n = len(labels)
  rng = np.random.default_rng(seed)
  draws = {"nmi": [], "ari": []}
  for _ in range(n_resamples):
    weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
    for name, value in scores(labels, predicted, weights).items():
      draws[name].append(value)
  tail = (1.0 - level) / 2.0 * 100.0
  return {name: (float(np.percentile(v, tail)), float(np.percentile(v, 100.0 - tail)))
          for name, v in draws.items()}
