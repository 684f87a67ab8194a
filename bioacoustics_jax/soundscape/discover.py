"""Discovery: cluster a store's windows and write what a person needs to listen to the clusters.

    result = discover.discover(store, out_dir, clusters=8)

Windows' unit vectors -> PCA (evaluate/jax_pca.py, on device) to `dims` components -> the
project's JAX k-means (evaluate/jax_kmeans.py) with `n_init` seeded restarts. The 2-D map is
the project's UMAP reducer (evaluate/reduce.py) over those components, fitted on a seeded sample
of `map_sample` windows and placing every other window with the fitted model's transform (UMAP's
cost grows faster than N; the page states the sample size). Written to `out_dir` (default
<store>/discover):

  windows.csv                      recording, start, end, cluster, x, y, label (one row per
                                   window; label from a table beside the recording, if any)
  raven/<recording>.Table.1.selections.txt   a Raven selection table per recording (a
                                   Cluster column),
                                   opened beside the recording in Raven Pro or as Audacity labels
  index.html                       the page (gallery.py): one file, works offline

Every row of the store is clustered (all of it in memory: [N, D] float32; beyond a few million
windows a sample would be needed, not done here). A cluster's examples on the page are its
windows nearest its centre, read back from the recordings (their paths in the manifest, or
under `audio_root`).
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from bioacoustics_jax.evaluate import jax_kmeans
from bioacoustics_jax.evaluate import jax_pca
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.soundscape import store as store_lib

RAVEN_HEADER = ("Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
                "Low Freq (Hz)", "High Freq (Hz)", "Cluster")


@dataclasses.dataclass
class Discovery:
  """The clustering of a store: per window its cluster and 2-D coordinates (store row order,
  sorted by recording then start), and per cluster its example rows nearest the centre."""

  rows: dict[str, np.ndarray]  # store.load_arrays()
  cluster: np.ndarray  # [N] int
  coords: np.ndarray  # [N, 2] float32
  examples: list[np.ndarray]  # per cluster: row indices, nearest the centre first
  inertia: float
  map_method: str  # how `coords` were made, in words (the page shows it)


def cluster(store: store_lib.Store, clusters: int = 8, dims: int = 32, n_init: int = 4,
            seed: int = 0, examples: int = 6, map_sample: int = 5000) -> Discovery:
  rows = store.load_arrays()
  x = rows["embedding"] / np.maximum(np.linalg.norm(rows["embedding"], axis=1, keepdims=True),
                                     1e-12)
  n = len(x)
  k = int(min(clusters, n))
  reduced = jax_pca.pca_fit_transform(x, min(dims, n, x.shape[1]))
  labels, inertia = jax_kmeans.kmeans(reduced, k, n_init=n_init, seed=seed)
  coords, map_method = map_2d(reduced, map_sample, seed)
  nearest = []
  for c in range(k):
    members = np.flatnonzero(labels == c)
    centre = reduced[members].mean(0)
    distance = np.linalg.norm(reduced[members] - centre, axis=1)
    nearest.append(members[np.argsort(distance, kind="stable")[:examples]])
  return Discovery(rows, labels, coords, nearest, inertia, map_method)


def map_2d(reduced: np.ndarray, sample: int, seed: int) -> tuple[np.ndarray, str]:
  """[N, 2] map coordinates of the windows' principal components, and how they were made: UMAP
  (evaluate/reduce.py) fitted on `sample` windows, the rest transformed; fewer than 3 windows
  (UMAP needs 3) keep the first two components."""
  n = len(reduced)
  if sample < 3:
    raise ValueError(f"map_sample={sample}: UMAP needs a sample of at least 3 windows.")
  if n < 3:
    coords = np.zeros((n, 2), np.float32)
    coords[:, :min(2, reduced.shape[1])] = reduced[:, :2]
    return coords, f"the first two principal components ({n} windows: too few for UMAP)"
  settings = reduce_lib.ReduceSettings(seed=seed, umap_fit_max_points=sample)
  coords = reduce_lib.reduce("umap", reduced, settings)
  fitted = min(sample, n)
  how = (f"UMAP of the {reduced.shape[1]} principal components, fitted on "
         + (f"all {n} windows" if fitted == n else
            f"a seeded sample of {fitted} of the {n} windows (the rest placed by its transform)"))
  return coords, how


def write_csv(found: Discovery, path: str) -> None:
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(("recording", "start", "end", "cluster", "x", "y", "label"))
    r = found.rows
    for i in range(len(found.cluster)):
      writer.writerow((r["recording"][i], f"{r['start'][i]:.6g}", f"{r['end'][i]:.6g}",
                       int(found.cluster[i]), f"{found.coords[i, 0]:.6g}",
                       f"{found.coords[i, 1]:.6g}", r["label"][i]))


def raven_name(recording: str) -> str:
  """site1/a.wav -> site1__a.Table.1.selections.txt (Raven's own naming, one flat folder)."""
  return os.path.splitext(recording.replace("/", "__"))[0] + ".Table.1.selections.txt"


def write_raven(found: Discovery, folder: str, high_hz: float) -> list[str]:
  """One Raven selection table per recording: every window, its cluster as the label."""
  os.makedirs(folder, exist_ok=True)
  written = []
  names = found.rows["recording"]
  for recording in sorted(set(names.tolist())):
    index = np.flatnonzero(names == recording)
    path = os.path.join(folder, raven_name(recording))
    with open(path, "w", newline="") as f:
      f.write("\t".join(RAVEN_HEADER) + "\n")
      for n, i in enumerate(index, start=1):
        f.write("\t".join((str(n), "Spectrogram 1", "1", f"{found.rows['start'][i]:.6f}",
                           f"{found.rows['end'][i]:.6f}", "0", f"{high_hz:.1f}",
                           f"c{int(found.cluster[i])}")) + "\n")
    written.append(path)
  return written


def audio_roots(store: store_lib.Store, audio_root: str = "") -> dict[str, str]:
  """Recording name -> the archive folder it was read from (its path in the manifest less its
  name), or `audio_root` when the recordings moved."""
  out = {}
  for name, info in store.recordings.items():
    path = info.get("path", "")
    out[name] = audio_root or (path[:-len(name)].rstrip("/") if path.endswith(name) else "")
  return out


def discover(store: store_lib.Store, out_dir: str = "", *, clusters: int = 8, dims: int = 32,
             n_init: int = 4, seed: int = 0, examples: int = 6, audio_root: str = "",
             map_sample: int = 5000) -> str:
  """Clusters `store`, writes windows.csv, raven/ and index.html; returns the page's path."""
  from bioacoustics_jax.soundscape import gallery  # pylint: disable=g-import-not-at-top
  out_dir = out_dir or os.path.join(store.path, "discover")
  os.makedirs(out_dir, exist_ok=True)
  found = cluster(store, clusters, dims, n_init, seed, examples, map_sample)
  write_csv(found, os.path.join(out_dir, "windows.csv"))
  write_raven(found, os.path.join(out_dir, "raven"), store.settings["input_rate"] / 2)
  page = os.path.join(out_dir, "index.html")
  with open(page, "w") as f:
    f.write(gallery.page(store, found, audio_roots(store, audio_root)))
  return page
