r"""The evaluator at BEANS scale: reduce, cluster, probe and score N x D embeddings, JAX vs sklearn.

  /work/main/.venv/bin/python -m experiments.perf.bench_evaluate \
      --n=100000 --dim=1024 --out=experiments/perf/results/evaluate_cpu.md

Synthetic embeddings shaped like a detection set's: `--classes` Gaussian classes whose means lie
in a 32-d subspace of the D-d space, plus isotropic noise, a train and a test split of N each.
Each step runs once, JAX compilation included (with --warm, JAX steps are timed on a second
call and the first call's time goes in the note; a run at small N shows what compilation alone
costs), in the order the evaluator runs them: JAX PCA and sklearn PCA to 2-d,
JAX and sklearn k-means (k = classes, n_init=10) on the PCA-2 projection and on the raw D-d
embedding, the linear probe (L-BFGS, 100 steps) with its bootstrap intervals, kNN retrieval
(precision@1/5/20 and mAP@R for `--knn_queries` queries against all N test points), few-shot
(1/5/10 shots x 5 draws), the clustering intervals (200 resamples), the exact silhouette of 2
labelings in one pass (--silhouette), and UMAP fitted on `--umap_fit` points with the rest
transformed (--umap). The header records the load average (the 2 cores are shared) and devices.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time

from absl import app
from absl import flags

_N = flags.DEFINE_integer("n", 100_000, "Examples per split.")
_DIM = flags.DEFINE_integer("dim", 1024, "Embedding dimension.")
_CLASSES = flags.DEFINE_integer("classes", 20, "Classes (k for k-means).")
_KNN_QUERIES = flags.DEFINE_integer("knn_queries", 5000, "kNN queries (all N are the base).")
_SKLEARN = flags.DEFINE_bool("sklearn", True, "Also time sklearn PCA and KMeans.")
_SILHOUETTE = flags.DEFINE_bool("silhouette", True, "Time the exact N^2 silhouette.")
_UMAP = flags.DEFINE_bool("umap", True, "Time UMAP fit-on-sample + transform.")
_UMAP_FIT = flags.DEFINE_integer("umap_fit", 10_000, "UMAP fit sample size.")
_WARM = flags.DEFINE_bool("warm", False, "Run each JAX step once untimed first (doubles the "
                          "run); off: JAX times include the one-time compilation.")
_KMEANS_ONLY = flags.DEFINE_bool("kmeans_only", False, "Only the JAX k-means steps (to re-time "
                                 "a k-means change without the rest).")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")


def _load() -> str:
  return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _data(n, dim, classes, seed):
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  basis = np.linalg.qr(np.random.default_rng(0).standard_normal((dim, 32)))[0].T  # [32, D]
  means = np.random.default_rng(1).standard_normal((classes, 32)) * 3.0
  labels = rng.integers(0, classes, n)
  x = (means[labels] + rng.standard_normal((n, 32))) @ basis
  x += 0.5 * rng.standard_normal((n, dim))
  return x.astype(np.float32), labels


def _probe_and_score_steps(timed, train, test, y_test, pca_labels, raw_labels, n, dim):
  from bioacoustics_jax.evaluate import cluster_intervals, neighbors  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate import probe_evaluator  # pylint: disable=g-import-not-at-top
  ev = probe_evaluator.ProbeEvaluator(tasks=("linear_probe",), log=None)
  timed("linear probe: fit 100 L-BFGS steps, score, 200 boot", "jax",
        lambda: ev.evaluate(train, test))
  ev = probe_evaluator.ProbeEvaluator(tasks=("knn",), knn_max_queries=_KNN_QUERIES.value,
                                      log=None)
  timed(f"kNN: {_KNN_QUERIES.value} queries x {n}, P@1/5/20, mAP@R", "jax",
        lambda: ev.evaluate(None, test))
  ev = probe_evaluator.ProbeEvaluator(tasks=("fewshot",), log=None)
  timed("few-shot: 1/5/10 shots x 5 draws", "jax", lambda: ev.evaluate(train, test))
  timed("clustering intervals, 200 resamples (1 row)", "numpy",
        lambda: cluster_intervals.clustering_intervals(y_test, raw_labels, None))
  if _SILHOUETTE.value:
    timed("exact silhouette, 2 labelings, one pass", "jax",
          lambda: neighbors.silhouette_samples(test.embeddings, [pca_labels, raw_labels]),
          note=f"{n}^2 x {dim} distances; one call, compilation (~1 s) included", warm=False)
  if _UMAP.value:
    from bioacoustics_jax.evaluate import reduce as reduce_lib  # pylint: disable=g-import-not-at-top
    settings = reduce_lib.ReduceSettings(umap_fit_max_points=_UMAP_FIT.value)
    # numba compiles UMAP's kernels on first use (~1 minute here): pay it on a small set first.
    timed("UMAP warm-up (numba compilation), 600 points", "umap-learn",
          lambda: reduce_lib.reduce("umap", test.embeddings[:600],
                                    reduce_lib.ReduceSettings(umap_fit_max_points=300)))
    timed(f"UMAP fit on {_UMAP_FIT.value}, transform the rest", "umap-learn",
          lambda: reduce_lib.reduce("umap", test.embeddings, settings))


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate import jax_kmeans, jax_pca  # pylint: disable=g-import-not-at-top

  n, dim, k = _N.value, _DIM.value, _CLASSES.value
  x_test, y_test = _data(n, dim, k, seed=2)
  x_train, y_train = _data(n, dim, k, seed=3)
  names = [f"c{i}" for i in range(k)]
  test = EmbeddingSet(x_test, y_test, [str(i) for i in range(n)], names)
  train = EmbeddingSet(x_train, y_train, [str(i) for i in range(n)], names)
  rows = []

  def timed(step, backend, fn, note="", warm=None):
    """Times fn(); JAX steps (warm=True) run once first, the cold time goes into the note."""
    warm = (backend == "jax" and _WARM.value) if warm is None else warm
    if warm:
      start = time.perf_counter()
      fn()
      note = f"first call {time.perf_counter() - start:.1f} s (compiles) " + note
    load = _load()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    rows.append((step, backend, f"{seconds:.1f}", load, note))
    print(f"{step:45s} {backend:8s} {seconds:8.1f} s  load {load}  {note}", flush=True)
    return out

  p2 = timed("PCA to 2-d", "jax", lambda: jax_pca.pca_fit_transform(x_test, 2))
  if _SKLEARN.value and not _KMEANS_ONLY.value:
    from sklearn.decomposition import PCA  # pylint: disable=g-import-not-at-top
    timed("PCA to 2-d", "sklearn", lambda: PCA(2, random_state=42).fit_transform(x_test))
  pca_labels, pca_inertia = timed("k-means on PCA-2 (n_init=10)", "jax",
                                  lambda: jax_kmeans.kmeans(p2, k, n_init=10, seed=42))
  raw_labels, raw_inertia = timed(f"k-means on raw {dim}-d (n_init=10)", "jax",
                                  lambda: jax_kmeans.kmeans(x_test, k, n_init=10, seed=42),
                                  )
  if _SKLEARN.value and not _KMEANS_ONLY.value:
    from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top
    sk2 = timed("k-means on PCA-2 (n_init=10)", "sklearn",
                lambda: KMeans(k, n_init=10, random_state=42).fit(p2))
    skd = timed(f"k-means on raw {dim}-d (n_init=10)", "sklearn",
                lambda: KMeans(k, n_init=10, random_state=42).fit(x_test))
    rows.append(("inertia jax / sklearn (PCA-2, raw)", "", f"{pca_inertia / sk2.inertia_:.6f}, "
                 f"{raw_inertia / skd.inertia_:.6f}", "", "<= 1 means JAX found a lower objective"))
  if _KMEANS_ONLY.value:
    rows.append(("k-means restarts run by", "", "lax.map", "", "one after another"))
  else:
    _probe_and_score_steps(timed, train, test, y_test, pca_labels, raw_labels, n, dim)

  lines = [
      f"# Evaluator at {n:,} x {dim:,} ({k} classes): {jax.devices()[0].platform.upper()}",
      "",
      "Produced by `/work/main/.venv/bin/python -m experiments.perf.bench_evaluate "
      + " ".join(sys.argv[1:]) + "`",
      f"on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
      f"{os.cpu_count()} CPU cores, jax {jax.__version__}, devices {jax.devices()}; "
      f"load average at the start of each step in the table (1/5/15 min). "
      + ("JAX steps are timed on their second call (the first, which compiles, is in the note)."
         if _WARM.value else "JAX steps include their one-time compilation."),
      "",
      "| step | backend | seconds | load | note |",
      "|---|---|---|---|---|",
  ] + [f"| {' | '.join(r)} |" for r in rows] + [""]
  text = "\n".join(lines)
  print(text)
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
    with open(_OUT.value, "w") as f:
      f.write(text)


if __name__ == "__main__":
  app.run(main)
