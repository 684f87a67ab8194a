"""95 % intervals for clustering scores by half-sampling: reduce + cluster re-run on random halves
of the clips, drawn without replacement.

Why not the bootstrap: a resample with replacement holds duplicated clips, and duplicates land in
the same cluster, so the plug-in NMI / ARI of a resample is biased upward and a percentile
interval can sit above its own estimate (the demo once showed `0.283 [0.29, 0.44]`).

The method. The estimate is the score of the full set (the mean over `evaluate.seeds`). What it
estimates is the expected score of the whole procedure (reduce + cluster, its seeds included) on
a test set of this size from the same population. Its standard error comes from `draws` halves,
each stratified by class (every class split in two, odd counts rounded at random) and each
re-running every reducer and clusterer with its own seed: for a smooth statistic the spread of
an m-of-n subsample estimate is sigma^2 (1/m - 1/n), which at m = n/2 is the sampling variance of
the full-set estimate (half-sampling, the delete-n/2 jackknife); the factor m / (n - m) corrects
uneven halves. Each half carries its own seed, so the spread holds the seed variation too (at
one seed; the estimate averages several, so this part errs wide). Settings that count points
(UMAP n_neighbors, t-SNE perplexity, HDBSCAN min_cluster_size) are scaled by m / n on a half, so
a half runs the procedure at the full set's relative scale (HDBSCAN with min_cluster_size 10 on
30 clips is not the procedure that ran on 60). The interval is
estimate +- t_{0.975, draws-1} x SE, clipped to the score's range: it always contains the
estimate, and its coverage is checked by simulation (tests/evaluate/test_half_samples.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from bioacoustics_jax.evaluate import cluster_intervals
from bioacoustics_jax.evaluate import metrics
from bioacoustics_jax.evaluate import passes
from bioacoustics_jax.evaluate import small_sets

LEVEL = 0.95
DEFAULT_DRAWS = 10
METHOD = ("half-sampling: reduce + cluster re-run on {draws} class-stratified halves without "
          "replacement, each with its own seed; estimate +- t(0.975, {df}) x SE, "
          "SE^2 = var(half scores) x m / (n - m)")
BOUNDS = {"nmi": (0.0, 1.0), "ari": (-0.5, 1.0), "ami": (-1.0, 1.0), "accuracy": (0.0, 1.0)}
# From the contingency table (formulas checked against sklearn in tests/evaluate/
# test_intervals.py): sklearn's input validation costs ~1-50 ms a call, the table microseconds.
SCORERS = {
    "nmi": lambda y, p: cluster_intervals.nmi_from_table(metrics.contingency(y, p)),
    "ari": lambda y, p: cluster_intervals.ari_from_table(metrics.contingency(y, p)),
    "ami": skm.adjusted_mutual_info_score,
    "accuracy": lambda y, p: cluster_intervals.accuracy_from_table(metrics.contingency(y, p))}


def halves(labels: np.ndarray, draws: int, seed: int) -> list[np.ndarray]:
  """`draws` sorted index arrays, each holding half of every class (odd counts: floor or ceil at
  random); the rows are taken in the caller's (canonical) order, so the halves are too."""
  rng = np.random.default_rng(seed)
  members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
  out = []
  for _ in range(draws):
    chosen = [rng.choice(m, len(m) // 2 + (len(m) % 2 and rng.random() < 0.5), replace=False)
              for m in members]
    out.append(np.sort(np.concatenate(chosen)))
  return out


def score_halves(x: np.ndarray, labels: np.ndarray, reducers: Sequence[str],
                 clusterers: Sequence[str], reduce_settings, cluster_settings, draws: int,
                 seed: int, scores: Sequence[str] = ("nmi", "ari"), subsets=None
                 ) -> tuple[dict[tuple[str, str], dict[str, list[float]]], list[int]]:
  """({(reducer, clusterer): {score: [value per half]}}, [half sizes]); NaN for a half with
  fewer than 2 classes or 3 clips. Half b is reduced and clustered with seed `seed + b`."""
  subsets = halves(labels, draws, seed) if subsets is None else subsets
  out = {(r, c): {s: [] for s in scores} for r in reducers for c in clusterers}
  for b, subset in enumerate(subsets):
    sub_labels = labels[subset]
    if len(subset) < 3 or len(np.unique(sub_labels)) < 2:
      for values in out.values():
        for v in values.values():
          v.append(math.nan)
      continue
    done = passes.run(x[subset], sub_labels, reducers, clusterers,
                      *scaled(reduce_settings, cluster_settings, len(x), len(subset)), seed + b)
    for key, values in out.items():
      for s in scores:
        values[s].append(float(SCORERS[s](sub_labels, done.predicted[key])))
  return out, [len(s) for s in subsets]


def scaled(reduce_settings, cluster_settings, n: int, m: int):
  """(reduce, cluster) settings for m of n points: the point counts of the full set's settings
  (after its small-set adaptation) times m / n."""
  def times(value):  # >= 3 where the full set had 3: 2 UMAP neighbours change its init
    return max(min(3, value), int(round(value * m / n)))
  full_umap, _ = small_sets.reducer_settings("umap", n, 2, reduce_settings)
  full_tsne, _ = small_sets.reducer_settings("tsne", n, 2, reduce_settings)
  full_hdbscan, _, _ = small_sets.clusterer_settings("hdbscan", n, 1, cluster_settings)
  return (dataclasses.replace(reduce_settings,
                              umap_n_neighbors=times(full_umap.umap_n_neighbors),
                              tsne_perplexity=max(1.0, full_tsne.tsne_perplexity * m / n)),
          dataclasses.replace(cluster_settings, hdbscan_min_cluster_size=times(
              full_hdbscan.hdbscan_min_cluster_size)))


def standard_error(values: Sequence[float], sizes: Sequence[int], n: int) -> float:
  """The full-set standard error from the spread of half-sample values (NaN if < 2 finite)."""
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values)
  if finite.sum() < 2:
    return math.nan
  m = float(np.mean(np.asarray(sizes, np.float64)[finite]))
  return float(values[finite].std(ddof=1) * math.sqrt(m / max(n - m, 1.0)))


def interval(estimate: float, se: float, n_values: int, score: str, level: float = LEVEL
             ) -> tuple[float, float]:
  """estimate +- t_{(1+level)/2, n_values-1} x se, clipped to the score's range."""
  if not (math.isfinite(estimate) and math.isfinite(se)) or n_values < 2:
    return math.nan, math.nan
  half = float(scipy_stats.t.ppf(0.5 + level / 2.0, n_values - 1)) * se
  lo, hi = BOUNDS.get(score, (-math.inf, math.inf))
  return min(estimate, max(lo, estimate - half)), max(estimate, min(hi, estimate + half))


def method(draws: int) -> str:
  return METHOD.format(draws=draws, df=draws - 1)
