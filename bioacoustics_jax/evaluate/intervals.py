"""95 % intervals for every reported score: bootstrap over examples, or over repeated draws.

Two mechanisms, one output shape `(lo, hi)`:
- `bootstrap(stat, n, ...)`: the percentile bootstrap. The examples of the evaluated set are
  resampled with replacement `n_boot` times (seeded) and `stat` is recomputed on each resample;
  the interval is the 2.5th-97.5th percentile of those values. It says how much the score would
  move on another sample of the same size from the same distribution, with the model fixed (the
  clustering, probe or neighbours are not re-fitted: that variance is what repeated seeds
  measure). `stat` receives multiplicity weights (how often each example was drawn), so a
  weighted statistic is computed in O(N) per resample instead of gathering a copy of the data.
- `repeats(values)`: a Student-t interval for the mean of repeated runs (few-shot draws, the
  seed repeats of a PyTorch comparison): mean +- t_{0.975, r-1} sd / sqrt(r).
The simulation test checks that both cover the true value about 95 % of the time.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95
DEFAULT_N_BOOT = 200

WeightedStat = Callable[[np.ndarray], float]


def resample_weights(n: int, n_boot: int, seed: int):
  """Yields `n_boot` multiplicity vectors (int64 [n], summing to n) of seeded resamples."""
  rng = np.random.default_rng(seed)
  for _ in range(n_boot):
    yield np.bincount(rng.integers(0, n, n), minlength=n)


def percentile_interval(values, level: float = LEVEL) -> tuple[float, float]:
  values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
  if len(values) == 0:
    return math.nan, math.nan
  tail = 100.0 * (1.0 - level) / 2.0
  lo, hi = np.percentile(values, [tail, 100.0 - tail])
  return float(lo), float(hi)


def bootstrap(stat: WeightedStat, n: int, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
              level: float = LEVEL) -> tuple[float, float]:
  """Percentile interval of `stat(weights)` over `n_boot` resamples of n examples."""
  if n_boot <= 0 or n < 2:
    return math.nan, math.nan
  return percentile_interval((stat(w) for w in resample_weights(n, n_boot, seed)), level)


def bootstrap_many(stats: dict[str, WeightedStat], n: int, n_boot: int = DEFAULT_N_BOOT,
                   seed: int = 0, level: float = LEVEL) -> dict[str, tuple[float, float]]:
  """`bootstrap` for several statistics over the SAME resamples (one draw, one bincount each)."""
  if n_boot <= 0 or n < 2:
    return {name: (math.nan, math.nan) for name in stats}
  values = {name: [] for name in stats}
  for w in resample_weights(n, n_boot, seed):
    for name, stat in stats.items():
      values[name].append(stat(w))
  return {name: percentile_interval(v, level) for name, v in values.items()}


def mean_interval(per_example: np.ndarray, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                  level: float = LEVEL) -> tuple[float, float]:
  """Bootstrap interval of the mean of per-example values (precision@k, AP@R, silhouettes)."""
  values = np.asarray(per_example, dtype=np.float64)
  return bootstrap(lambda w: float(np.dot(w, values) / w.sum()), len(values), n_boot, seed,
                   level)


def repeats(values, level: float = LEVEL, bounds: tuple[float, float] = (-math.inf, math.inf)
            ) -> tuple[float, float]:
  """t interval for the mean of repeated runs, clipped to the metric's `bounds`; NaN with fewer
  than 2 finite values."""
  values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
  if len(values) < 2:
    return math.nan, math.nan
  half = (scipy_stats.t.ppf(0.5 + level / 2.0, len(values) - 1) * values.std(ddof=1)
          / math.sqrt(len(values)))
  return (float(max(bounds[0], values.mean() - half)),
          float(min(bounds[1], values.mean() + half)))
