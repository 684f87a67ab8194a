"""Half-sample intervals (evaluate/half_samples.py): they contain their estimate, and over data
sets drawn from a known Gaussian mixture they cover the expected score about 95 % of the time."""

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import half_samples
from bioacoustics_jax.evaluate import passes
from bioacoustics_jax.evaluate import reduce as reduce_lib

# Three overlapping classes in 8-d (NMI ~0.5 under PCA-2 + k-means), 20 clips each: the size of
# a small test split, where the old bootstrap was furthest off.
PER_CLASS, DIM, SPREAD = 20, 8, 1.6
# The device backend (PCA and k-means in JAX, evaluate/jax_*.py): ~3 ms a pass on 2 cores
# against ~50 ms for sklearn's k-means on 60 points, compiled once for each of the two sizes.
REDUCE = reduce_lib.ReduceSettings(backend="jax")
CLUSTER = cluster_lib.ClusterSettings(backend="jax")


def _draw(rng):
  means = np.zeros((3, DIM))
  means[1, 0], means[2, 1] = 2.0 * SPREAD, 2.0 * SPREAD
  y = np.repeat(np.arange(3), PER_CLASS)
  return (means[y] + rng.standard_normal((len(y), DIM))).astype(np.float32), y


def _point(x, y, seed):
  predicted = passes.run(x, y, ("pca",), ("kmeans",), REDUCE, CLUSTER, seed).predicted
  labels = predicted["pca", "kmeans"]
  return {s: float(half_samples.SCORERS[s](y, labels)) for s in ("nmi", "ari")}


def _coverage(n_sets: int, draws: int):
  """(coverage per score, every interval contains its estimate) over n_sets simulated sets."""
  with threadpool_limits(1):  # BLAS threads only contend on tiny inputs
    truth_rng = np.random.default_rng(1000)
    truths = [_point(*_draw(truth_rng), seed=i) for i in range(200)]
    truth = {s: float(np.mean([t[s] for t in truths])) for s in ("nmi", "ari")}
    rng = np.random.default_rng(0)
    hits, contains = {"nmi": 0, "ari": 0}, True
    for i in range(n_sets):
      x, y = _draw(rng)
      point = _point(x, y, seed=10_000 + i)
      values, sizes = half_samples.score_halves(x, y, ("pca",), ("kmeans",), REDUCE, CLUSTER,
                                                draws, seed=10_000 + i)
      for s in ("nmi", "ari"):
        se = half_samples.standard_error(values["pca", "kmeans"][s], sizes, len(y))
        lo, hi = half_samples.interval(point[s], se, draws, s)
        contains &= lo <= point[s] <= hi
        hits[s] += lo <= truth[s] <= hi
  return {s: h / n_sets for s, h in hits.items()}, contains, truth


def test_coverage_of_a_known_mixture():
  coverage, contains, truth = _coverage(n_sets=100, draws=10)
  assert contains
  assert 0.3 < truth["nmi"] < 0.8  # neither trivial nor hopeless
  for score, value in coverage.items():
    assert 0.90 <= value <= 0.98, (score, value, truth)


@pytest.mark.slow
def test_coverage_of_a_known_mixture_200_sets():
  coverage, contains, truth = _coverage(n_sets=200, draws=20)
  assert contains
  for score, value in coverage.items():
    assert 0.90 <= value <= 0.98, (score, value, truth)
