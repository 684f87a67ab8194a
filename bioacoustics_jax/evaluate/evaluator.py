"""ClusteringEvaluator: one shared reduce -> cluster -> score procedure for every cell, and the
home of the cell's other evaluator tasks (linear probe, kNN, few-shot: probe_evaluator.py).

Every model, dataset and regime goes through the same object, so their rows differ only by the
embeddings. `evaluate(test_es)` gives the clustering rows (ROW_KEYS, plus INTERVAL_KEYS when
`cluster_intervals`); `evaluate_probes(train_es, test_es)` the probe rows (PROBE_ROW_KEYS), and
`needs_train` says whether the train split must be extracted for them. Rows carry the wall time
of reduce + cluster + score; the reduction is computed once per reducer and seed and shared by
its clusterers (its time is added to each of their rows), and the exact silhouettes of all rows
and seeds come from one pass over the pairwise distances (its time is split evenly over the rows).

What makes a row's numbers comparable (DESIGN.md, "Comparisons"):
- order: every step sees the rows sorted by clip id (canonical.py), with seeds from the
  evaluation settings (`seed`, `seed + 1`, ...), so permuting the input rows leaves every score
  bit-identical; projections and predicted clusters come back in the caller's order.
- seeds: `seeds` (default 5) repeats of reduce + cluster; the row holds the mean, the sd and
  every seed's NMI and ARI (`nmi_by_seed`, `ari_by_seed`).
- intervals: `nmi_lo/hi`, `ari_lo/hi` by half-sampling (half_samples.py; `interval_draws`
  halves, reduce + cluster re-run on each), an interval that contains its estimate; the halves'
  scores (`nmi_halves`, `ari_halves`) and the clips' hash (`clips_key`) let paired.py compare
  two rows of the same clips from results.csv alone.
- small sets: settings that need more points than the set has are adapted (small_sets.py) and the
  row's note says how.
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
from bioacoustics_jax.evaluate import canonical
from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import cluster_intervals
from bioacoustics_jax.evaluate import half_samples
from bioacoustics_jax.evaluate import intervals
from bioacoustics_jax.evaluate import metrics
from bioacoustics_jax.evaluate import neighbors
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.evaluate import passes
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
# With `cluster_intervals`: the other scores' intervals (ami_lo, ..., accuracy_hi).
INTERVAL_KEYS = tuple(k for k in cluster_intervals.INTERVAL_KEYS if k not in ROW_KEYS)
PROBE_ROW_KEYS = probe_evaluator.PROBE_ROW_KEYS
BACKENDS = ("sklearn", "jax")
# tsne_impl "sklearn" was the only implementation before evaluate/jax_tsne.py: its rows keep their
# keys, the JAX rows (the new default) get new ones.
_TSNE_DEFAULTS = dict(tsne_init="pca", tsne_max_iter=1000, tsne_learning_rate="auto",
                      tsne_impl="sklearn")


@dataclasses.dataclass
class EvaluationResult:
  """Rows (one per reducer x clusterer, keys ROW_KEYS) and the first seed's per-row outputs, in
  the caller's row order.

  `projections` holds every reducer's output that is 2-D (UMAP, t-SNE, PCA-2); "none" is absent.
  `predictions[(reducer, clusterer)]` are the first seed's clusters (`nmi_by_seed`'s first value).
  """

  rows: list[dict]
  projections: dict[str, np.ndarray]
  predictions: dict[tuple[str, str], np.ndarray] = dataclasses.field(default_factory=dict)


class ClusteringEvaluator:
  """Reduces, clusters and scores an EmbeddingSet under every reducer x clusterer pair.

  Beyond the original keywords (all kept):
    backend: "sklearn" (default: the numbers the paper comparison was verified with) or "jax"
      (PCA and k-means on the device; the choice for BEANS-scale sets, 100,000 x 1,024).
    umap_fit_max_points: fit UMAP on a seeded sample of this many points, transform the rest.
    tsne_impl: "jax" (default: evaluate/jax_tsne.py, sklearn's algorithm with exact gradients,
      so 5 seeds x the halves stay affordable) or "sklearn" (sklearn.manifold.TSNE).
    silhouette_max_points: None (default) = exact silhouette; an int = a seeded subsample.
    n_boot: bootstrap resamples for the probes' intervals and the silhouette's; 0 = none.
    interval_draws: halves for the NMI / ARI intervals (half_samples.py); < 2 = no intervals.
    cluster_intervals: add INTERVAL_KEYS (AMI, accuracy: half-sampled; silhouette: bootstrap of
      the per-clip silhouettes) to the clustering rows (off: the results store lacks them).
    probes: probe tasks for evaluate_probes, any of probe_evaluator.TASKS; () = none.
    knn_ks, fewshot_shots, fewshot_draws, probe_c, probe_steps, knn_max_queries, map_r_max: the
      probe settings (probe_evaluator.ProbeEvaluator).
    seeds: repeat reduce + cluster + score with seeds seed, seed + 1, ...; the row's scores are
      the means, `ari_sd` / `nmi_sd` their standard deviations, `*_by_seed` each seed's value
      (UMAP and k-means turn 1e-7 embedding differences into visible score changes: compare
      models with evaluate/paired.py, never by eye).
  """

  def __init__(self, reducers: Sequence[str] = ("umap", "pca", "none"),
               clusterers: Sequence[str] = ("kmeans", "hdbscan"), seed: int = 42,
               umap_n_neighbors: int = 50, umap_min_dist: float = 0.5, pca_dim: int = 2,
               tsne_perplexity: float = 25.0, tsne_init: str = "pca",
               tsne_max_iter: int = 1000, tsne_learning_rate: str | float = "auto",
               tsne_impl: str = "jax", hdbscan_min_cluster_size: int = 10,
               log: Callable[[str], None] | None = print, backend: str = "sklearn",
               umap_fit_max_points: int | None = None,
               silhouette_max_points: int | None = None,
               n_boot: int = intervals.DEFAULT_N_BOOT, cluster_intervals: bool = False,
               probes: Sequence[str] = (), knn_ks: Sequence[int] = retrieval.DEFAULT_KS,
               fewshot_shots: Sequence[int] = (1, 5, 10), fewshot_draws: int = 5,
               probe_c: float = 1.0, probe_steps: int = 100,
               knn_max_queries: int | None = None, map_r_max: int = 1000, seeds: int = 5,
               interval_draws: int = half_samples.DEFAULT_DRAWS):
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
    if tsne_impl not in reduce_lib.TSNE_IMPLS:
      raise ValueError(f"Unknown tsne_impl {tsne_impl!r}; known: {list(reduce_lib.TSNE_IMPLS)}.")
    if int(seeds) < 1:
      raise ValueError(f"evaluate.seeds={seeds!r} must be >= 1.")
    self.seeds = int(seeds)
    self.interval_draws = int(interval_draws)
    self.reducers = tuple(reducers)
    self.clusterers = tuple(clusterers)
    self.seed = seed
    self.reduce_settings = reduce_lib.ReduceSettings(
        seed=seed, umap_n_neighbors=umap_n_neighbors, umap_min_dist=umap_min_dist,
        pca_dim=pca_dim, tsne_perplexity=tsne_perplexity, tsne_init=tsne_init,
        tsne_max_iter=int(tsne_max_iter), tsne_learning_rate=tsne_learning_rate,
        tsne_impl=tsne_impl, backend=backend, umap_fit_max_points=umap_fit_max_points)
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
    # Canonical row order and half-sample intervals (protocol 2) changed every score: rows made
    # before them never share a key with rows made after.
    keyed.update(seeds=self.seeds, interval_draws=self.interval_draws, protocol=2)
    tsne = dict(tsne_init=tsne_init, tsne_max_iter=int(tsne_max_iter),
                tsne_learning_rate=tsne_learning_rate, tsne_impl=tsne_impl)
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
    identity = dict(status=status, **self.settings, n_seeds=self.seeds, eval_key=self.eval_key,
                    clips_key=paired.clips_key(es.ids, es.labels))
    keys = ROW_KEYS + (INTERVAL_KEYS if self.cluster_intervals else ())
    if status == "degenerate":
      self.log(f"{name}: not scored: {note}")
      rows = [{k: dict(reducer=r, clusterer=c, n=len(es), n_classes=n_classes, n_clusters=0,
                       embedding_dim=es.dim, seconds=0.0, note=note, **identity,
                       **{f"{s}_{t}": "" for s in SEED_SD for t in ("by_seed", "halves")}
                       ).get(k, math.nan)
               for k in keys} for r in self.reducers for c in self.clusterers]
      return EvaluationResult(rows=rows, projections={}, predictions={})
    # Every step sees the rows in canonical order (canonical.py); per-row outputs go back.
    order = canonical.order(es.ids, es.labels, embeddings)
    x, y = embeddings[order], np.asarray(es.labels)[order]
    runs = [passes.run(x, y, self.reducers, self.clusterers, self.reduce_settings,
                       self.cluster_settings, self.seed + i) for i in range(self.seeds)]
    pairs = list(runs[0].predicted)
    start = time.perf_counter()
    silhouettes = self._silhouettes(x, [run.predicted[p] for run in runs for p in pairs])
    shared_seconds = (time.perf_counter() - start) / len(pairs)
    start = time.perf_counter()
    draws, sizes = self._half_sample_scores(x, y)
    shared_seconds += (time.perf_counter() - start) / len(pairs)
    rows = []
    for i, pair in enumerate(pairs):
      start = time.perf_counter()
      per_point = [silhouettes[s * len(pairs) + i] for s in range(self.seeds)]
      per_seed = [metrics.clustering_scores(
          x, y, run.predicted[pair], seed=self.seed,
          silhouette_value=math.nan if p is None else float(p.mean()))
          for run, p in zip(runs, per_point)]
      row = dict(reducer=pair[0], clusterer=pair[1], n=len(es), n_classes=n_classes,
                 embedding_dim=es.dim, n_clusters=per_seed[0]["n_clusters"], **identity,
                 note="; ".join(filter(None, [note, *runs[0].notes[pair]])))
      for score in SCORES:
        row[score] = float(np.mean([r[score] for r in per_seed]))
      for score in SEED_SD:
        values = [r[score] for r in per_seed]
        row[f"{score}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
        row[f"{score}_by_seed"] = " ".join(repr(float(v)) for v in values)
      for score in SEED_SD:
        row[f"{score}_halves"] = paired.halves_text(draws.get(pair, {}).get(score, []))
      for score, values in draws.get(pair, {}).items():
        row[f"{score}_lo"], row[f"{score}_hi"] = half_samples.interval(
            row[score], half_samples.standard_error(values, sizes, len(es)),
            self.interval_draws, score)
      if self.cluster_intervals:
        defined = [p for p in per_point if p is not None]
        row["silhouette_lo"], row["silhouette_hi"] = (intervals.mean_interval(
            np.mean(defined, axis=0), self.n_boot, self.seed) if defined else (math.nan,) * 2)
      row["seconds"] = (sum(run.seconds[pair] for run in runs) + shared_seconds
                        + time.perf_counter() - start)
      row = {key: row.get(key, math.nan) for key in keys}
      rows.append(row)
      self.log(f"{name} {pair[0]}+{pair[1]} ({self.seeds} seed(s)): ARI={row['ari']:.3f}"
               f"±{row['ari_sd']:.3f} [{row['ari_lo']:.3f}, {row['ari_hi']:.3f}] "
               f"NMI={row['nmi']:.3f}±{row['nmi_sd']:.3f} [{row['nmi_lo']:.3f}, "
               f"{row['nmi_hi']:.3f}] sil={row['silhouette']:.3f} ({row['n_clusters']} "
               f"clusters, {row['seconds']:.1f} s)")
    projections = {r: canonical.restore(p, order) for r, p in runs[0].projections.items()
                   if r != "none" and p.shape[1] == 2}
    predictions = {p: canonical.restore(runs[0].predicted[p], order) for p in pairs}
    return EvaluationResult(rows=rows, projections=projections, predictions=predictions)

  def _half_sample_scores(self, x: np.ndarray, y: np.ndarray):
    """Scores of every pair on `interval_draws` halves (half_samples.py); ({}, []) when off."""
    if self.interval_draws < 2:
      return {}, []
    scores = ("nmi", "ari") + (("ami", "accuracy") if self.cluster_intervals else ())
    return half_samples.score_halves(x, y, self.reducers, self.clusterers, self.reduce_settings,
                                     self.cluster_settings, self.interval_draws, self.seed,
                                     scores)

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
