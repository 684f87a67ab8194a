"""One pass of the clustering protocol over a set of points: every reducer once, every clusterer on
each reducer's projection (the reduction is shared by its clusterers), with the small-set
adaptations of evaluate/small_sets.py and the notes that say what they changed.

The evaluator runs one pass per seed on the full set; the half-sample intervals
(half_samples.py) and the paired comparison (paired.py) run one per drawn half. The caller
passes the rows in canonical order (canonical.py): a pass itself is order-sensitive.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate import small_sets


@dataclasses.dataclass
class Pass:
  """What one pass produced, keyed by reducer or (reducer, clusterer)."""

  projections: dict[str, np.ndarray]
  predicted: dict[tuple[str, str], np.ndarray]
  seconds: dict[tuple[str, str], float]  # the reduction's time + the clusterer's
  notes: dict[tuple[str, str], list[str]]  # the small-set adaptations of the pair


def run(x: np.ndarray, labels: np.ndarray, reducers: Sequence[str], clusterers: Sequence[str],
        reduce_settings: reduce_lib.ReduceSettings,
        cluster_settings: cluster_lib.ClusterSettings, seed: int) -> Pass:
  """Reduces `x` [N, D] with each reducer and clusters each projection into as many clusters as
  `labels` has distinct values, every step seeded by `seed`."""
  reduce_settings = dataclasses.replace(reduce_settings, seed=seed)
  cluster_settings = dataclasses.replace(cluster_settings, seed=seed)
  k = int(len(np.unique(labels)))
  out = Pass({}, {}, {}, {})
  for reducer in reducers:
    _, reduce_notes = small_sets.reducer_settings(reducer, *x.shape, reduce_settings)
    start = time.perf_counter()
    projected = reduce_lib.reduce(reducer, x, reduce_settings)
    reduce_seconds = time.perf_counter() - start
    out.projections[reducer] = projected
    for clusterer in clusterers:
      _, _, cluster_notes = small_sets.clusterer_settings(clusterer, len(x), k, cluster_settings)
      start = time.perf_counter()
      out.predicted[reducer, clusterer] = cluster_lib.cluster(clusterer, projected, k,
                                                              cluster_settings)
      out.seconds[reducer, clusterer] = reduce_seconds + time.perf_counter() - start
      out.notes[reducer, clusterer] = reduce_notes + cluster_notes
  return out
