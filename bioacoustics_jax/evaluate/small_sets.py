"""Settings that need more points than a small set has, adapted to N with the change stated.

One home for every such rule: `reduce.reduce` and `cluster.cluster` apply them (so no caller can
crash a library on a 3-clip split), and the evaluator writes the returned notes into the row's
`note`, so a reader sees that the row ran with n_neighbors 2 instead of 50. Each rule is the
library's own limit:
- UMAP: n_neighbors <= N - 1 (and >= 2); its spectral init solves for n_components + 1
  eigenvectors with a sparse solver that needs N > n_components + 1 (scipy raises "Cannot use
  scipy.linalg.eigh for sparse A with k >= N" on 3 points), and with n_neighbors 2 its result
  changed between two identical seeded calls (15 points, a 4-component graph; measured with
  umap-learn 0.5.12), so those sets start from a seeded random layout.
- t-SNE: perplexity < N (sklearn), kept to (N - 1) / 3 so ~3 perplexities of neighbours exist.
- PCA: components <= min(N, D).
- HDBSCAN: min_cluster_size <= N / 2 (and >= 2), else every point is noise.
- k-means, GMM, Ward: k <= N.
"""

from __future__ import annotations

import dataclasses

UMAP_COMPONENTS = 2


def reducer_settings(name: str, n: int, dim: int, settings):
  """(ReduceSettings for `n` points of dimension `dim`, [notes on what changed])."""
  notes, changes = [], {}
  if name == "umap":
    neighbors = max(2, min(settings.umap_n_neighbors, n - 1))
    if neighbors != settings.umap_n_neighbors:
      changes["umap_n_neighbors"] = neighbors
      notes.append(f"umap n_neighbors {settings.umap_n_neighbors} -> {neighbors} ({n} points)")
    if settings.umap_init == "spectral" and (n <= UMAP_COMPONENTS + 1 or neighbors < 3):
      changes["umap_init"] = "random"
      why = (f"needs more than {UMAP_COMPONENTS + 1} points, {n} given"
             if n <= UMAP_COMPONENTS + 1 else "is not reproducible with 2 neighbours")
      notes.append(f"umap init spectral -> random (the spectral init {why})")
  elif name == "tsne":
    perplexity = float(min(settings.tsne_perplexity, max(1.0, (n - 1) / 3.0)))
    if perplexity != settings.tsne_perplexity:
      changes["tsne_perplexity"] = perplexity
      notes.append(f"tsne perplexity {settings.tsne_perplexity:g} -> {perplexity:g} "
                   f"({n} points)")
  elif name == "pca":
    components = min(settings.pca_dim, n, dim)
    if components != settings.pca_dim:
      changes["pca_dim"] = components
      notes.append(f"pca components {settings.pca_dim} -> {components} ({n} x {dim} input)")
  return dataclasses.replace(settings, **changes), notes


def clusterer_settings(name: str, n: int, k: int, settings):
  """(ClusterSettings, k) for `n` points and `k` requested clusters, and [notes]."""
  notes, changes = [], {}
  if name == "hdbscan":
    size = max(2, min(settings.hdbscan_min_cluster_size, n // 2))
    if size != settings.hdbscan_min_cluster_size:
      changes["hdbscan_min_cluster_size"] = size
      notes.append(f"hdbscan min_cluster_size {settings.hdbscan_min_cluster_size} -> {size} "
                   f"({n} points)")
  elif k > n:
    notes.append(f"{name} k {k} -> {n} ({n} points)")
    k = n
  return dataclasses.replace(settings, **changes), k, notes
