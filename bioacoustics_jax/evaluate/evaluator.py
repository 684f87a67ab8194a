"""ClusteringEvaluator: one shared reduce -> cluster -> score procedure for every cell.

Every model, dataset and regime goes through the same object, so their rows differ only by the
embeddings. Rows carry the wall time of reduce + cluster + score; the reduction is computed once
per reducer and shared by its clusterers, and its time is added to each of their rows.
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
from bioacoustics_jax.evaluate import metrics
from bioacoustics_jax.evaluate import reduce as reduce_lib

ROW_KEYS = ("reducer", "clusterer", "ari", "nmi", "ami", "silhouette", "accuracy", "n",
            "n_classes", "n_clusters", "embedding_dim", "seconds", "status", "note",
            "umap_n_neighbors", "umap_min_dist", "pca_dim", "tsne_perplexity",
            "hdbscan_min_cluster_size", "eval_seed", "eval_key")
SCORES = ("ari", "nmi", "ami", "silhouette", "accuracy")
# Below these, a score is reported but flagged "small" (and never bolded as best): with a
# handful of points per class any embedding can cluster perfectly by chance.
MIN_EXAMPLES = 10
MIN_PER_CLASS = 3


@dataclasses.dataclass
class EvaluationResult:
  """Rows (one per reducer x clusterer, keys ROW_KEYS) and the 2-D projections for figures.

  `projections` holds every reducer's output that is 2-D (UMAP, t-SNE, PCA-2); "none" is absent.
  """

  rows: list[dict]
  projections: dict[str, np.ndarray]


class ClusteringEvaluator:
  """Reduces, clusters and scores an EmbeddingSet under every reducer x clusterer pair."""

  def __init__(self, reducers: Sequence[str] = ("umap", "pca", "none"),
               clusterers: Sequence[str] = ("kmeans", "hdbscan"), seed: int = 42,
               umap_n_neighbors: int = 50, umap_min_dist: float = 0.5, pca_dim: int = 2,
               tsne_perplexity: float = 25.0, hdbscan_min_cluster_size: int = 10,
               log: Callable[[str], None] | None = print):
    # Fail at construction, not after an hour of extraction, on a misspelt name.
    for name in reducers:
      reduce_lib.get_reducer(name)
    for name in clusterers:
      cluster_lib.get_clusterer(name)
    if not reducers or not clusterers:
      raise ValueError("ClusteringEvaluator needs at least one reducer and one clusterer; got "
                       f"reducers={list(reducers)}, clusterers={list(clusterers)}.")
    self.reducers = tuple(reducers)
    self.clusterers = tuple(clusterers)
    self.seed = seed
    self.reduce_settings = reduce_lib.ReduceSettings(
        seed=seed, umap_n_neighbors=umap_n_neighbors, umap_min_dist=umap_min_dist,
        pca_dim=pca_dim, tsne_perplexity=tsne_perplexity)
    self.cluster_settings = cluster_lib.ClusterSettings(
        seed=seed, hdbscan_min_cluster_size=hdbscan_min_cluster_size)
    self.log = log or (lambda message: None)
    # Every setting a row's numbers depend on, as columns, and their hash (the evaluation key).
    self.settings = dict(umap_n_neighbors=int(umap_n_neighbors), umap_min_dist=float(umap_min_dist),
                         pca_dim=int(pca_dim), tsne_perplexity=float(tsne_perplexity),
                         hdbscan_min_cluster_size=int(hdbscan_min_cluster_size),
                         eval_seed=int(seed))
    text = json.dumps(self.settings, sort_keys=True)
    self.eval_key = hashlib.sha256(text.encode()).hexdigest()[:16]

  @classmethod
  def default_settings(cls) -> dict:
    """Every constructor setting with its default (the paper's protocol), `log` excluded: the
    one place the defaults are written, so configs start from this dict."""
    signature = inspect.signature(cls.__init__)
    return {name: (tuple(p.default) if isinstance(p.default, (list, tuple)) else p.default)
            for name, p in signature.parameters.items() if name not in ("self", "log")}

  def evaluate(self, es: EmbeddingSet) -> EvaluationResult:
    embeddings = np.asarray(es.embeddings, dtype=np.float32)
    name = _describe(es)
    if not np.all(np.isfinite(embeddings)):
      bad = np.flatnonzero(~np.all(np.isfinite(embeddings), axis=1))
      raise ValueError(f"{name}: {len(bad)} non-finite embedding rows, e.g. ids "
                       f"{[es.ids[i] for i in bad[:3]]}; re-extract them.")
    n_classes = es.n_classes
    status, note = self._check_labels(es)
    if status == "degenerate":
      self.log(f"{name}: not scored: {note}")
      rows = [dict(reducer=r, clusterer=c, **{m: math.nan for m in SCORES}, n=len(es),
                   n_classes=n_classes, n_clusters=0, embedding_dim=es.dim, seconds=0.0,
                   status=status, note=note, **self.settings, eval_key=self.eval_key)
              for r in self.reducers for c in self.clusterers]
      return EvaluationResult(rows=rows, projections={})
    rows, projections = [], {}
    for reducer in self.reducers:
      start = time.perf_counter()
      projected = reduce_lib.reduce(reducer, embeddings, self.reduce_settings)
      reduce_seconds = time.perf_counter() - start
      if reducer != "none" and projected.shape[1] == 2:
        projections[reducer] = projected
      for clusterer in self.clusterers:
        start = time.perf_counter()
        predicted = cluster_lib.cluster(clusterer, projected, n_classes, self.cluster_settings)
        scores = metrics.clustering_scores(embeddings, es.labels, predicted, seed=self.seed)
        row = dict(reducer=reducer, clusterer=clusterer, **scores, n=len(es),
                   n_classes=n_classes, embedding_dim=es.dim,
                   seconds=reduce_seconds + time.perf_counter() - start, status=status,
                   note=note, **self.settings, eval_key=self.eval_key)
        rows.append({key: row[key] for key in ROW_KEYS})
        self.log(f"{name} {reducer}+{clusterer}: ARI={row['ari']:.3f} NMI={row['nmi']:.3f} "
                 f"AMI={row['ami']:.3f} sil={row['silhouette']:.3f} acc={row['accuracy']:.3f} "
                 f"({row['n_clusters']} clusters, {row['seconds']:.1f} s)")
    return EvaluationResult(rows=rows, projections=projections)


  @staticmethod
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
