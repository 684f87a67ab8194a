"""Synthetic embeddings with known classes for the evaluator benchmarks."""

from __future__ import annotations


def blobs(n: int, dim: int, classes: int):
  """(x [n, dim] float32, y [n]): overlapping Gaussian classes (make_blobs, std 8) in a random
  32-d subspace of `dim`, plus isotropic noise (bench_seeds.py's and tsne_agreement.py's data)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from sklearn.datasets import make_blobs  # pylint: disable=g-import-not-at-top
  low, y = make_blobs(n, n_features=32, centers=classes, cluster_std=8.0, random_state=2)
  basis = np.linalg.qr(np.random.default_rng(0).standard_normal((dim, 32)))[0].T
  x = low @ basis + 0.5 * np.random.default_rng(1).standard_normal((n, dim))
  return x.astype(np.float32), y
