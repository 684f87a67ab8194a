"""ClusteringEvaluator: one shared reduce -> cluster -> score procedure for every cell, and the
home of the cell's other evaluator tasks (linear probe, kNN, few-shot: probe_evaluator.py).

Every model, dataset and regime goes through the same object, so their rows differ only by the
embeddings. `evaluate(test_es)` gives the clustering rows (ROW_KEYS, plus INTERVAL_KEYS when
`cluster_intervals`); `evaluate_probes(train_es, test_es)` the probe rows (PROBE_ROW_KEYS), and
`needs_train` says whether the train split must be extracted for them. Rows carry the wall time
of reduce + cluster + score; the reduction is computed once per reducer and shared by its
clusterers (its time is added to each of their rows), and the exact silhouettes of all rows come
from one pass over the pairwise distances (its time is split evenly over the rows).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import time
from typing import Callable, Sequence

import numpy as np

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import cluster_intervals
from bioacoustics_jax.evaluate import intervals
from bioacoustics_jax.evaluate import metrics
from bioacoustics_jax.evaluate import neighbors
from bioacoustics_jax.evaluate import probe_evaluator
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.evaluate import retrieval
from bioacoustics_jax.results import schema

ROW_KEYS = schema.EVALUATOR_COLUMNS  # the results.csv columns the evaluator fills
SEED_SD = ("ari", "nmi")  # scores whose spread over evaluate.seeds is reported (<score>_sd)
SCORES = ("ari", "nmi", "ami", "silhouette", "accuracy")
# Below these, a score is reported but flagged "small" (and never bolded as best): with a
# handful of points per class any embedding can cluster perfectly by chance.
MIN_EXAMPLES = 10
MIN_PER_CLASS = 3
INTERVAL_KEYS = cluster_intervals.INTERVAL_KEYS  # ari_lo, ari_hi, nmi_lo, ... accuracy_hi
PROBE_ROW_KEYS = probe_evaluator.PROBE_ROW_KEYS
BACKENDS = ("sklearn", "jax")
_TSNE_DEFAULTS = dict(tsne_init="pca", tsne_max_iter=1000, tsne_learning_rate="auto")


@dataclasses.dataclass
class EvaluationResult:
  """Rows (one per reducer x clusterer, keys ROW_KEYS) and the 2-D projections for figures.

  `projections` holds every reducer's output that is 2-D (UMAP, t-SNE, PCA-2); "none" is absent.
  """

  rows: list[dict]
  projections: dict[str, np.ndarray]


class ClusteringEvaluator:
  """Reduces, clusters and scores an EmbeddingSet under every reducer x clusterer pair.

  Beyond the original keywords (all kept):
    backend: "sklearn" (default: the numbers the paper comparison was verified with) or "jax"
      (PCA and k-means on the device; the choice for BEANS-scale sets, 100,000 x 1,024).
    umap_fit_max_points: fit UMAP on a seeded sample of this many points, transform the rest.
    silhouette_max_points: None (default) = exact silhouette; an int = a seeded subsample.
    n_boot: bootstrap resamples for every interval (clustering and probes); 0 = none.
    cluster_intervals: add INTERVAL_KEYS to the clustering rows (off by default until the results
      store has those columns).
    probes: probe tasks for evaluate_probes, any of probe_evaluator.TASKS; () = none.
    knn_ks, fewshot_shots, fewshot_draws, probe_c, probe_steps, knn_max_queries, map_r_max: the
      probe settings (probe_evaluator.ProbeEvaluator).
    seeds: repeat reduce + cluster + score with seeds seed, seed + 1, ...; the row's scores are
      the means, `ari_sd` / `nmi_sd` their standard deviations (UMAP and k-means turn 1e-7
      embedding differences into visible score changes: compare models beyond this noise).
  """

  def __init__(self, reducers: Sequence[str] = ("umap", "pca", "none"),
               clusterers: Sequence[str] = ("kmeans", "hdbscan"), seed: int = 42,
               umap_n_neighbors: int = 50, umap_min_dist: float = 0.5, pca_dim: int = 2,
               tsne_perplexity: float = 25.0, tsne_init: str = "pca",
               tsne_max_iter: int = 1000, tsne_learning_rate: str | float = "auto",
               hdbscan_min_cluster_size: int = 10,
               log: Callable[[str], None] | None = print, backend: str = "sklearn",
               umap_fit_max_points: int | None = None,
               silhouette_max_points: int | None = None,
               n_boot: int = intervals.DEFAULT_N_BOOT, cluster_intervals: bool = False,
               probes: Sequence[str] = (), knn_ks: Sequence[int] = retrieval.DEFAULT_KS,
               fewshot_shots: Sequence[int] = (1, 5, 10), fewshot_draws: int = 5,
               probe_c: float = 1.0, probe_steps: int = 100,
               knn_max_queries: int | None = None, map_r_max: int = 1000, seeds: int = 1):
    # Fail at construction, not after an hour of extraction, on a misspelt name.
    for name in reducers:
      reduce_lib.get_reducer(name)
    for name in clusterers:
      cluster_lib.get_clusterer(name)
    if not reducers or not clusterers:
      raise ValueError("ClusteringEvaluator needs at least one reducer and one clusterer; got "
                       f"reducers={list(reducers)}, clusterers={list(clusterers)}.")
    if backend not in BACKENDS:
      raise ValueError(f"Unknown evaluator backend {backend!r}; known: {list(BACKENDS)}.")
    if int(seeds) < 1:
      raise ValueError(f"evaluate.seeds={seeds!r} must be >= 1.")
    self.seeds = int(seeds)
    self.reducers = tuple(reducers)
    self.clusterers = tuple(clusterers)
    self.seed = seed
    self.reduce_settings = reduce_lib.ReduceSettings(
        seed=seed, umap_n_neighbors=umap_n_neighbors, umap_min_dist=umap_min_dist,
        pca_dim=pca_dim, tsne_perplexity=tsne_perplexity, tsne_init=tsne_init,
        tsne_max_iter=int(tsne_max_iter), tsne_learning_rate=tsne_learning_rate, backend=backend,
        umap_fit_max_points=umap_fit_max_points)
    self.cluster_settings = cluster_lib.ClusterSettings(
        seed=seed, hdbscan_min_cluster_size=hdbscan_min_cluster_size, backend=backend)
    self.silhouette_max_points = silhouette_max_points
    self.n_boot = int(n_boot)
    self.cluster_intervals = bool(cluster_intervals)
    self.log = log or (lambda message: None)
    self.probe_evaluator = probe_evaluator.ProbeEvaluator(
        tasks=tuple(probes), knn_ks=knn_ks, fewshot_shots=fewshot_shots,
        fewshot_draws=fewshot_draws, probe_c=probe_c, probe_steps=probe_steps,
        knn_max_queries=knn_max_queries, map_r_max=map_r_max, n_boot=n_boot, seed=seed,
        log=self.log) if probes else None
    # The settings a row's numbers depend on, as its columns, and the hash of every setting
    # that changes a clustering score (the evaluation key; probes have their own rows).
    self.settings = dict(umap_n_neighbors=int(umap_n_neighbors), umap_min_dist=float(umap_min_dist),
                         pca_dim=int(pca_dim), tsne_perplexity=float(tsne_perplexity),
                         hdbscan_min_cluster_size=int(hdbscan_min_cluster_size),
                         eval_seed=int(seed))
    keyed = dict(self.settings, backend=backend, umap_fit_max_points=umap_fit_max_points,
                 silhouette_max_points=silhouette_max_points,
                 n_boot=int(n_boot) if cluster_intervals else 0)
    if self.seeds > 1:  # one seed keeps the keys of rows written before this setting existed
      keyed["seeds"] = self.seeds
    tsne = dict(tsne_init=tsne_init, tsne_max_iter=int(tsne_max_iter),
                tsne_learning_rate=tsne_learning_rate)
    # Keyed only when not sklearn's defaults, so the keys of earlier rows stay valid.
    keyed.update({k: v for k, v in tsne.items() if v != _TSNE_DEFAULTS[k]})
    self.eval_key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]

  @classmethod
  def default_settings(cls) -> dict:
    """Every constructor setting with its default (the paper's protocol), `log` excluded: the
    one place the defaults are written, so configs start from this dict."""
    signature = inspect.signature(cls.__init__)
    return {name: (tuple(p.default) if isinstance(p.default, (list, tuple)) else p.default)
            for name, p in signature.parameters.items() if name not in ("self", "log")}

  @property
  def needs_train(self) -> bool:
    """True when evaluate_probes uses the train split's embeddings (extract it only then)."""
    return self.probe_evaluator is not None and self.probe_evaluator.needs_train

  def evaluate_probes(self, train_es: EmbeddingSet | None, test_es: EmbeddingSet) -> list[dict]:
    """Probe rows (PROBE_ROW_KEYS) of one cell; [] when no probes were asked for."""
    if self.probe_evaluator is None:
      return []
    _check(test_es)
    if train_es is not None:
      _check(train_es)
    return self.probe_evaluator.evaluate(train_es, test_es)

  def evaluate(self, es: EmbeddingSet) -> EvaluationResult:
    embeddings = np.asarray(es.embeddings, dtype=np.float32)
    name = _check(es, min_examples=0)
    n_classes = es.n_classes
    status, note = _check_labels(es)
    identity = dict(status=status, note=note, **self.settings, n_seeds=self.seeds,
                    ari_sd=math.nan, nmi_sd=math.nan, eval_key=self.eval_key)
    if status == "degenerate":
      self.log(f"{name}: not scored: {note}")
      keys = ROW_KEYS + (INTERVAL_KEYS if self.cluster_intervals else ())
      rows = [{k: dict(reducer=r, clusterer=c, n=len(es), n_classes=n_classes, n_clusters=0,
                       embedding_dim=es.dim, seconds=0.0, **identity).get(k, math.nan)
               for k in keys} for r in self.reducers for c in self.clusterers]
      return EvaluationResult(rows=rows, projections={})
    runs = [self._evaluate_seed(es, embeddings, identity, self.seed + i)
            for i in range(self.seeds)]
    if self.seeds == 1:
      return runs[0]
    rows = []
    for per_seed in zip(*(r.rows for r in runs)):
      row = dict(per_seed[0])  # intervals, n_clusters and the like: of the first seed
      for score in SCORES:
        row[score] = float(np.mean([r[score] for r in per_seed]))
      for score in SEED_SD:
        row[f"{score}_sd"] = float(np.std([r[score] for r in per_seed], ddof=1))
      row["seconds"] = float(sum(r["seconds"] for r in per_seed))
      rows.append(row)
      self.log(f"{name} {row['reducer']}+{row['clusterer']} over {self.seeds} seeds: "
               f"ARI={row['ari']:.3f}±{row['ari_sd']:.3f} NMI={row['nmi']:.3f}"
               f"±{row['nmi_sd']:.3f}")
    return EvaluationResult(rows=rows, projections=runs[0].projections)

  def _evaluate_seed(self, es: EmbeddingSet, embeddings: np.ndarray, identity: dict,
                     seed: int) -> EvaluationResult:
    """Every reducer x clusterer row with the reducers and clusterers seeded by `seed`."""
    name, n_classes = _describe(es), es.n_classes
    reduce_settings = dataclasses.replace(self.reduce_settings, seed=seed)
    cluster_settings = dataclasses.replace(self.cluster_settings, seed=seed)
    pending, projections = [], {}
    for reducer in self.reducers:
      start = time.perf_counter()
      projected = reduce_lib.reduce(reducer, embeddings, reduce_settings)
      reduce_seconds = time.perf_counter() - start
      if reducer != "none" and projected.shape[1] == 2:
        projections[reducer] = projected
      for clusterer in self.clusterers:
        start = time.perf_counter()
        predicted = cluster_lib.cluster(clusterer, projected, n_classes, cluster_settings)
        pending.append((reducer, clusterer, predicted,
                        reduce_seconds + time.perf_counter() - start))
    start = time.perf_counter()
    silhouettes = self._silhouettes(embeddings, [p[2] for p in pending])
    shared_seconds = (time.perf_counter() - start) / len(pending)
    rows = []
    for (reducer, clusterer, predicted, seconds), per_point in zip(pending, silhouettes):
      start = time.perf_counter()
      scores = metrics.clustering_scores(
          embeddings, es.labels, predicted, seed=self.seed,
          silhouette_value=math.nan if per_point is None else float(per_point.mean()))
      row = dict(reducer=reducer, clusterer=clusterer, **scores, n=len(es),
                 n_classes=n_classes, embedding_dim=es.dim, **identity)
      keys = ROW_KEYS
      if self.cluster_intervals:
        # The silhouette's interval resamples the points it was computed on.
        row.update(cluster_intervals.clustering_intervals(
            es.labels, predicted, None, self.n_boot, self.seed))
        if per_point is not None:
          row["silhouette_lo"], row["silhouette_hi"] = intervals.mean_interval(
              per_point, self.n_boot, self.seed)
        keys = ROW_KEYS + INTERVAL_KEYS
      row["seconds"] = seconds + shared_seconds + time.perf_counter() - start
      rows.append({key: row[key] for key in keys})
      self.log(f"{name} {reducer}+{clusterer}: ARI={row['ari']:.3f} NMI={row['nmi']:.3f} "
               f"AMI={row['ami']:.3f} sil={row['silhouette']:.3f} acc={row['accuracy']:.3f} "
               f"({row['n_clusters']} clusters, {row['seconds']:.1f} s)")
    return EvaluationResult(rows=rows, projections=projections)

  def _silhouettes(self, embeddings: np.ndarray, labelings: list[np.ndarray]
                   ) -> list[np.ndarray | None]:
    """Per-point exact silhouettes of every labeling (one distance pass); None if undefined."""
    subset = metrics.silhouette_subset(len(embeddings), self.silhouette_max_points, self.seed)
    defined = [i for i, p in enumerate(labelings) if metrics.silhouette_defined(p[subset])]
    out: list[np.ndarray | None] = [None] * len(labelings)
    if defined:
      values = neighbors.silhouette_samples(embeddings[subset],
                                            [labelings[i][subset] for i in defined])
      for i, v in zip(defined, values):
        out[i] = v
    return out


def _check(es: EmbeddingSet, min_examples: int = 3) -> str:
  """The set's name for messages; raises on sets that cannot be evaluated (clustering instead
  reports too-small sets as degenerate rows, see `_check_labels`)."""
  name = _describe(es)
  if len(es) < min_examples:
    raise ValueError(f"{name}: {len(es)} examples is too few to cluster (need >= 3).")
  embeddings = es.embeddings
  if not np.all(np.isfinite(embeddings)):
    bad = np.flatnonzero(~np.all(np.isfinite(embeddings), axis=1))
    raise ValueError(f"{name}: {len(bad)} non-finite embedding rows, e.g. ids "
                     f"{[es.ids[i] for i in bad[:3]]}; re-extract them.")
  return name


def _check_labels(es: EmbeddingSet) -> tuple[str, str]:
  """("ok" | "small" | "degenerate", why): fewer than 2 classes present cannot mean anything
  (NaN, never 1.0); very small sets are scored but flagged."""
  labels = np.asarray(es.labels)
  present, counts = np.unique(labels, return_counts=True)
  names = [str(es.label_names[i]) if 0 <= i < len(es.label_names) else str(i) for i in present]
  if len(present) < 2:
    return "degenerate", (f"one class in split ({names[0] if names else 'none'}, "
                          f"{len(labels)} examples): clustering scores are undefined")
  if len(labels) < 3:
    return "degenerate", f"only {len(labels)} examples: too few to cluster"
  notes = []
  if len(labels) < MIN_EXAMPLES:
    notes.append(f"only {len(labels)} examples")
  few = [f"{n} ({c})" for n, c in zip(names, counts) if c < MIN_PER_CLASS]
  if few:
    notes.append(f"classes with < {MIN_PER_CLASS} examples: {', '.join(few)}")
  if notes:
    return "small", "small set: " + "; ".join(notes)
  return "ok", ""


def _describe(es: EmbeddingSet) -> str:
  parts = [str(es.meta[k]) for k in ("dataset", "model", "regime") if k in es.meta]
  return "/".join(parts) or f"EmbeddingSet[{len(es)}x{es.dim}]"
