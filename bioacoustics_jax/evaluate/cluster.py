"""Clustering algorithms, registered by name: k-means, HDBSCAN, GMM, agglomerative Ward.

Every clusterer gets the number of clusters k (the number of distinct labels, background
included, as in the paper's notebooks); HDBSCAN ignores it and finds its own. HDBSCAN's noise
points keep the label -1 and the metrics treat -1 as one more cluster: dropping them would score
a model on the easy points only, and counting noise as a cluster penalises leaving points out.
`backend="jax"` runs k-means on the device (evaluate/jax_kmeans.py: same algorithm, objective
<= sklearn's in the tests); the others are sklearn's on either backend.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from bioacoustics_jax import registry
from bioacoustics_jax.evaluate import small_sets


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
  seed: int = 42
  kmeans_n_init: int = 10
  hdbscan_min_cluster_size: int = 10
  # Full covariances only in low dimension: on a 1000-d "none" embedding a full GMM has ~500k
  # parameters per component and is both slow and singular; diagonal covariances there.
  gmm_full_covariance_max_dim: int = 16
  backend: str = "sklearn"  # "jax": k-means on the device


Clusterer = Callable[[np.ndarray, int, ClusterSettings], np.ndarray]
CLUSTERERS: registry.Registry[Clusterer] = registry.Registry("clusterer")
register_clusterer = CLUSTERERS.add
names = CLUSTERERS.names
get_clusterer = CLUSTERERS.__getitem__


def cluster(name: str, points: np.ndarray, n_clusters: int,
            settings: ClusterSettings = ClusterSettings()) -> np.ndarray:
  """Cluster labels [N] (int64) for [N, d] points; k and HDBSCAN's minimum cluster size are
  adapted to N (evaluate/small_sets.py)."""
  points = np.asarray(points, dtype=np.float64)  # float64: stable distances, sklearn's own dtype
  if points.ndim != 2 or len(points) < 2:
    raise ValueError(f"cluster({name!r}) needs [N >= 2, d] points, got shape {points.shape}.")
  if n_clusters < 1:
    raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
  settings, k, _ = small_sets.clusterer_settings(name, len(points), int(n_clusters), settings)
  return np.asarray(get_clusterer(name)(points, k, settings), dtype=np.int64)


@register_clusterer("kmeans")
def _kmeans(points: np.ndarray, k: int, settings: ClusterSettings) -> np.ndarray:
  if settings.backend == "jax":
    from bioacoustics_jax.evaluate import jax_kmeans
    return jax_kmeans.kmeans(points, k, n_init=settings.kmeans_n_init, seed=settings.seed)[0]
  from sklearn.cluster import KMeans
  model = KMeans(n_clusters=k, n_init=settings.kmeans_n_init, random_state=settings.seed)
  return model.fit_predict(points)


@register_clusterer("hdbscan")
def _hdbscan(points: np.ndarray, k: int, settings: ClusterSettings) -> np.ndarray:
  del k  # HDBSCAN decides the number of clusters itself
  from sklearn.cluster import HDBSCAN
  # min_cluster_size <= N / 2 on tiny sets (small_sets.py), else everything is noise.
  return HDBSCAN(min_cluster_size=settings.hdbscan_min_cluster_size, copy=True).fit_predict(points)


@register_clusterer("gmm")
def _gmm(points: np.ndarray, k: int, settings: ClusterSettings) -> np.ndarray:
  from sklearn.mixture import GaussianMixture
  covariance = "full" if points.shape[1] <= settings.gmm_full_covariance_max_dim else "diag"
  model = GaussianMixture(n_components=k, covariance_type=covariance,
                          random_state=settings.seed, reg_covar=1e-5)
  return model.fit_predict(points)


@register_clusterer("ward")
def _ward(points: np.ndarray, k: int, settings: ClusterSettings) -> np.ndarray:
  del settings  # deterministic
  from sklearn.cluster import AgglomerativeClustering
  return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(points)
