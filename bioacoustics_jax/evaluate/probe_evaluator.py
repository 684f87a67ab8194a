"""ProbeEvaluator: linear probe, kNN retrieval and few-shot scores of one cell's embeddings.

The evaluator's second family of tasks, beside clustering (evaluator.py), on the same
EmbeddingSets: the linear probe and few-shot fit on the TRAIN split's embeddings and score the
test split; kNN retrieval needs only the test split. Rows are long (one per task x setting x
metric, keys PROBE_ROW_KEYS) so detection and classification sets, and tasks with different
metrics, share one table; every value carries a 95 % interval (`lo`, `hi`):
- linear_probe: accuracy and macro_f1 (classification) or map and macro_f1 (detection, one sigmoid
  per class on the multi-hot targets, F1 at probability 0.5); percentile bootstrap over test
  examples with the probe fixed.
- knn: precision_at_k for each k and map_at_r, leave-one-out on the test split; bootstrap over
  queries.
- fewshot: n examples per clustering label (background counts as a label on detection sets)
  drawn from train, a linear probe on them (features z-scored with the whole train split's
  statistics, labels unused: n examples give no usable std), scored as linear_probe; `fewshot_draws` seeded draws,
  value = their mean, interval = Student-t over draws (intervals.repeats).
A probe that cannot mean anything is skipped, value NaN and the reason in `skipped`, never 0 or 1:
no train split, different label spaces, test classes absent from train, too few train examples
for n shots, fewer than 2 classes.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import numpy as np

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import intervals
from bioacoustics_jax.evaluate import linear_probe
from bioacoustics_jax.evaluate import probe_metrics
from bioacoustics_jax.evaluate import retrieval
from bioacoustics_jax.results import schema

TASKS = ("linear_probe", "knn", "fewshot")
PROBE_ROW_KEYS = schema.PROBE_EVALUATOR_COLUMNS  # the probes.csv columns the evaluator fills


class ProbeEvaluator:
  """Scores (train, test) EmbeddingSets of one cell under the asked tasks; see module doc."""

  def __init__(self, tasks: Sequence[str] = TASKS, knn_ks: Sequence[int] = retrieval.DEFAULT_KS,
               fewshot_shots: Sequence[int] = (1, 5, 10), fewshot_draws: int = 5,
               probe_c: float = 1.0, probe_steps: int = 100, knn_max_queries: int | None = None,
               map_r_max: int = 1000, n_boot: int = intervals.DEFAULT_N_BOOT, seed: int = 42,
               log: Callable[[str], None] | None = print):
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
      raise KeyError(f"Unknown probe task(s) {unknown}; known: {list(TASKS)}.")
    self.tasks = tuple(tasks)
    self.knn_ks = tuple(int(k) for k in knn_ks)
    self.fewshot_shots = tuple(int(n) for n in fewshot_shots)
    self.fewshot_draws = int(fewshot_draws)
    self.probe_settings = linear_probe.ProbeSettings(c=probe_c, steps=probe_steps)
    self.knn_max_queries = knn_max_queries
    self.map_r_max = int(map_r_max)
    self.n_boot = int(n_boot)
    self.seed = int(seed)
    self.log = log or (lambda message: None)

  @property
  def needs_train(self) -> bool:
    """Whether evaluate() uses the train split (extract it only then)."""
    return any(t in self.tasks for t in ("linear_probe", "fewshot"))

  def evaluate(self, train_es: EmbeddingSet | None, test_es: EmbeddingSet) -> list[dict]:
    rows = []
    if "linear_probe" in self.tasks:
      rows += self._linear(train_es, test_es)
    if "knn" in self.tasks:
      rows += self._knn(test_es)
    if "fewshot" in self.tasks:
      rows += self._fewshot(train_es, test_es)
    for row in rows:
      value = "skipped: " + row["skipped"] if row["skipped"] else (
          f"{row['value']:.3f} [{row['lo']:.3f}, {row['hi']:.3f}]")
      self.log(f"{_describe(test_es)} {row['task']} {row['setting']} {row['metric']}: {value}")
    return rows

  # --- rows ----------------------------------------------------------------------------------

  def _row(self, task, setting, metric, value, lo, hi, train_es, test_es, seconds, skipped=""):
    row = dict(task=task, setting=setting, metric=metric, value=float(value), lo=float(lo),
               hi=float(hi), n_train=0 if train_es is None else len(train_es),
               n_test=len(test_es), n_classes=test_es.n_classes, embedding_dim=test_es.dim,
               seconds=float(seconds), skipped=skipped)
    return {k: row[k] for k in PROBE_ROW_KEYS}

  def _skipped(self, task, settings, metrics, reason, train_es, test_es):
    return [self._row(task, s, m, math.nan, math.nan, math.nan, train_es, test_es, 0.0, reason)
            for s in settings for m in metrics]

  # --- linear probe --------------------------------------------------------------------------

  def _linear(self, train_es, test_es) -> list[dict]:
    metrics = _metric_names(test_es)
    reason = _train_problem(train_es, test_es)
    if reason:
      return self._skipped("linear_probe", [""], metrics, reason, train_es, test_es)
    start = time.perf_counter()
    scores = self._fit_and_score(train_es.embeddings, _fit_targets(train_es), test_es)
    values = self._scores(test_es, scores, with_intervals=True)
    seconds = time.perf_counter() - start
    return [self._row("linear_probe", "", m, *values[m], train_es, test_es, seconds)
            for m in metrics]

  def _fit_and_score(self, x, targets, test_es, standardise_with=None,
                     sample_weight=None) -> np.ndarray:
    probe = linear_probe.LinearProbe(self.probe_settings).fit(
        x, targets, _is_detection(test_es), standardise_with=standardise_with,
        sample_weight=sample_weight)
    return probe.scores(test_es.embeddings)

  def _scores(self, test_es, scores, with_intervals: bool) -> dict[str, tuple[float, ...]]:
    """{metric: (value, lo, hi)} of probe logits on the test split."""
    n, n_boot = len(test_es), (self.n_boot if with_intervals else 0)
    out = {}
    if _is_detection(test_es):
      targets = _targets(test_es)
      predicted = scores > 0.0  # sigmoid(logit) > 0.5
      ap = probe_metrics.AveragePrecision(targets, scores)
      out["map"] = (ap(), *intervals.bootstrap(ap, n, n_boot, self.seed))
      f1 = lambda w=None: probe_metrics.multilabel_macro_f1(targets, predicted, w)
      out["macro_f1"] = (f1(), *intervals.bootstrap(f1, n, n_boot, self.seed))
    else:
      y, predicted = test_es.labels, np.argmax(scores, axis=1)
      for name, fn in (("accuracy", probe_metrics.accuracy), ("macro_f1", probe_metrics.macro_f1)):
        stat = lambda w=None, fn=fn: fn(y, predicted, w)
        out[name] = (stat(), *intervals.bootstrap(stat, n, n_boot, self.seed))
    return out

  # --- kNN retrieval -------------------------------------------------------------------------

  def _knn(self, test_es) -> list[dict]:
    settings = [f"k={k}" for k in self.knn_ks]
    r_setting = f"R<={self.map_r_max}"
    counts = np.unique(test_es.labels, return_counts=True)[1]
    if len(test_es) < 3 or counts.max() < 2:
      reason = f"{len(test_es)} test examples and no class with 2: nothing to retrieve"
      return (self._skipped("knn", settings, ["precision_at_k"], reason, None, test_es)
              + self._skipped("knn", [r_setting], ["map_at_r"], reason, None, test_es))
    start = time.perf_counter()
    ks = [k for k in self.knn_ks if k <= len(test_es) - 1]
    result = retrieval.retrieval_scores(
        test_es.embeddings, test_es.labels, ks=ks or (1,), r_max=self.map_r_max,
        max_queries=self.knn_max_queries, seed=self.seed)
    seconds = time.perf_counter() - start
    rows = []
    for k in self.knn_ks:
      if k not in ks:
        rows += self._skipped("knn", [f"k={k}"], ["precision_at_k"],
                              f"k={k} needs more than {len(test_es)} test examples", None,
                              test_es)
        continue
      values = result.precision_at[k]
      rows.append(self._row("knn", f"k={k}", "precision_at_k", values.mean(),
                            *intervals.mean_interval(values, self.n_boot, self.seed), None,
                            test_es, seconds))
    rows.append(self._row("knn", r_setting, "map_at_r", result.ap_at_r.mean(),
                          *intervals.mean_interval(result.ap_at_r, self.n_boot, self.seed),
                          None, test_es, seconds))
    return rows

  # --- few-shot ------------------------------------------------------------------------------

  def _fewshot(self, train_es, test_es) -> list[dict]:
    metrics = _metric_names(test_es)
    reason = _train_problem(train_es, test_es)
    if reason:
      return self._skipped("fewshot", [f"n={n}" for n in self.fewshot_shots], metrics, reason,
                           train_es, test_es)
    rows = []
    classes, counts = np.unique(train_es.labels, return_counts=True)
    targets = _fit_targets(train_es)
    if targets.ndim == 1:  # one-hot once, so a draw's missing top class cannot shrink C
      targets = np.eye(len(train_es.label_names), dtype=np.float32)[targets]
    # Every draw is padded to the largest draw's size (weight 0): one compilation for all n.
    size = max(self.fewshot_shots) * len(classes)
    stats = train_es.embeddings
    for n in self.fewshot_shots:
      setting = f"n={n}"
      short = [train_es.label_names[c] for c, m in zip(classes, counts) if m < n]
      if short:
        rows += self._skipped("fewshot", [setting], metrics,
                              f"classes with fewer than {n} train examples: {short[:5]}",
                              train_es, test_es)
        continue
      start = time.perf_counter()
      draws = {m: [] for m in metrics}
      for d in range(self.fewshot_draws):
        rng = np.random.default_rng([self.seed, n, d])
        chosen = np.concatenate([rng.choice(np.flatnonzero(train_es.labels == c), n,
                                            replace=False) for c in classes])
        padded = np.resize(chosen, size)
        weight = (np.arange(size) < len(chosen)).astype(np.float32)
        scores = self._fit_and_score(train_es.embeddings[padded], targets[padded], test_es,
                                     standardise_with=stats, sample_weight=weight)
        for m, (value, _, _) in self._scores(test_es, scores, with_intervals=False).items():
          draws[m].append(value)
      seconds = time.perf_counter() - start
      for m in metrics:
        rows.append(self._row("fewshot", setting, m, np.mean(draws[m]),
                              *intervals.repeats(draws[m], bounds=(0.0, 1.0)), train_es, test_es, seconds))
    return rows


def _is_detection(es: EmbeddingSet) -> bool:
  return es.targets is not None or es.meta.get("task") == "detection"


def _metric_names(es: EmbeddingSet) -> list[str]:
  return ["map", "macro_f1"] if _is_detection(es) else ["accuracy", "macro_f1"]


def _targets(es: EmbeddingSet) -> np.ndarray:
  """Multi-hot [N, C] of a detection set; from the clustering labels if a store lacks them."""
  if es.targets is not None:
    return es.targets
  n_classes = len(es.label_names) - 1  # label 0 is background, label l is class l - 1
  return np.eye(n_classes + 1, dtype=np.float32)[es.labels][:, 1:]


def _fit_targets(es: EmbeddingSet) -> np.ndarray:
  return _targets(es) if _is_detection(es) else es.labels


def _train_problem(train_es: EmbeddingSet | None, test_es: EmbeddingSet) -> str:
  """Why a probe fitted on train cannot be scored on test ('' when it can)."""
  if train_es is None or len(train_es) == 0:
    return "no train split"
  if list(train_es.label_names) != list(test_es.label_names):
    return "train and test label names differ"
  if _is_detection(test_es):
    train_has = _targets(train_es).sum(axis=0) > 0
    test_has = _targets(test_es).sum(axis=0) > 0
    absent = np.flatnonzero(test_has & ~train_has)
    names = [test_es.label_names[c + 1] for c in absent]
    if not train_has.any():
      return "no positive window in train"
  else:
    absent = sorted(set(test_es.labels.tolist()) - set(train_es.labels.tolist()))
    names = [test_es.label_names[c] for c in absent]
    if len(np.unique(train_es.labels)) < 2:
      return "fewer than 2 classes in train"
  if names:
    return f"test classes absent from train: {names[:5]}" + ("..." if len(names) > 5 else "")
  return ""


def _describe(es: EmbeddingSet) -> str:
  parts = [str(es.meta[k]) for k in ("dataset", "model", "regime") if k in es.meta]
  return "/".join(parts) or f"EmbeddingSet[{len(es)}x{es.dim}]"
