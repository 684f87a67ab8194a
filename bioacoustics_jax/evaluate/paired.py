"""Paired comparison of two embedding sets of the same clips (two models, frozen vs fine-tuned):
the difference of NMI / ARI with a paired 95 % interval and a verdict, the only basis on which
the suite says that one is better.

Pairing. Rows of the same clips (equal `clips_key`: the same clip ids, unique, with the same
labels) evaluated under the same settings (equal `eval_key`) were reduced and clustered on the
same canonical order with the same seeds, and their half-sample scores (`nmi_halves`,
`ari_halves`) come from the same halves with the same seeds (half_samples.py). The difference
A - B is the difference of the seed means; its standard error is the spread of the per-half
differences (clips resampled jointly, each half with its own seed) x sqrt(m / (n - m)); the
interval is difference +- t_{0.975, halves-1} x SE. Verdict: "A better" when the interval lies
above 0, "B better" when below, else "no detectable difference". Two equal sets give a zero
difference on every half, hence [0, 0] and no difference.

Across settings. The halves are drawn from the clips (in canonical order), the number of halves
and the evaluation seed alone, and half b is reduced and clustered with seed + b whatever the
reducer, clusterer or their settings: so two rows of the same clips, eval seed, number of halves
and of seeds share their halves even when their reducer, clusterer or settings differ (two UMAP
settings of a sweep, UMAP vs PCA). `across_settings=True` pairs such rows (what a sweep's choice
of settings needs); by default rows must also share reducer, clusterer and evaluation key.

`compare(a, b, evaluator)` evaluates two EmbeddingSets; `compare_rows(row_a, row_b, score)` works
from results.csv rows alone (what the reports use).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import half_samples

A_BETTER, B_BETTER, NO_DIFFERENCE = "A better", "B better", "no detectable difference"
NOT_PAIRED = "not paired"
METHOD = ("paired half-sampling: the same class-stratified halves and seeds for A and B; "
          "difference of seed means +- t(0.975, halves-1) x SE of the per-half differences")


@dataclasses.dataclass(frozen=True)
class Comparison:
  reducer: str
  clusterer: str
  score: str
  a: float
  b: float
  difference: float  # a - b
  lo: float
  hi: float
  verdict: str
  reason: str = ""  # why NOT_PAIRED


def clips_key(ids, labels) -> str:
  """A hash of the clips (id, label) in canonical order; "" when ids repeat (not pairable)."""
  ids = [str(i) for i in ids]
  if len(set(ids)) != len(ids):
    return ""
  pairs = sorted(zip(ids, (int(v) for v in np.asarray(labels))))
  return hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]


def halves_text(values) -> str:
  return " ".join(repr(float(v)) for v in values)


def _values(text) -> np.ndarray:
  return np.asarray([float(v) for v in str(text or "").split()], np.float64)


def compare_rows(a: dict, b: dict, score: str = "nmi", across_settings: bool = False
                 ) -> Comparison:
  """The paired difference of `score` between two results rows (A = a, B = b); with
  `across_settings` the rows may differ in reducer, clusterer and settings (module doc)."""
  base = dict(reducer=a["reducer"], clusterer=a["clusterer"], score=score, a=float(a[score]),
              b=float(b[score]), difference=float(a[score]) - float(b[score]))
  reason = _unpaired(a, b, score, across_settings)
  if reason:
    return Comparison(**base, lo=math.nan, hi=math.nan, verdict=NOT_PAIRED, reason=reason)
  diffs = _values(a[f"{score}_halves"]) - _values(b[f"{score}_halves"])
  n = int(a["n"])
  sizes = [n // 2] * len(diffs)  # stratified halves: n/2 up to one clip per class
  return from_halves(base, diffs, sizes, n)


def from_halves(base: dict, diffs, sizes, n: int) -> Comparison:
  """The verdict on `base["difference"]` (A - B on the full set) from the per-half differences
  A - B (the same halves for both, `sizes` clips each, of `n`); `base` holds the Comparison's
  other fields (reducer, clusterer, score, a, b, difference). Any paired score goes through
  here: NMI / ARI rows above, the paper grid's background AUC (report/paper_grid)."""
  diffs = np.asarray(diffs, np.float64)
  se = half_samples.standard_error(diffs, sizes, n)
  finite = int(np.isfinite(diffs).sum())
  lo, hi = half_samples.interval(base["difference"], se, finite, "difference")
  if not (math.isfinite(lo) and math.isfinite(hi)):
    return Comparison(**base, lo=lo, hi=hi, verdict=NOT_PAIRED,
                      reason="fewer than 2 scored halves")
  verdict = A_BETTER if lo > 0 else B_BETTER if hi < 0 else NO_DIFFERENCE
  return Comparison(**base, lo=lo, hi=hi, verdict=verdict)


def winner(rows: list[dict], score: str = "nmi", across_settings: bool = False) -> dict | None:
  """The row whose `score` is highest AND detected better than every other row by
  `compare_rows`; None when any comparison says no detectable difference or cannot be paired
  (what a report may bold or colour)."""
  finite = [r for r in rows if math.isfinite(float(r[score]))]
  if len(finite) < 2:
    return None
  best = max(finite, key=lambda r: float(r[score]))
  others = [r for r in finite if r is not best]
  if all(compare_rows(best, r, score, across_settings).verdict == A_BETTER for r in others):
    return best
  return None


_SAME = (("clips_key", "the same clips"), ("eval_key", "the same settings"),
         ("reducer", "the same reducer"), ("clusterer", "the same clusterer"))
# What makes two rows share their halves and seeds whatever their settings (module doc).
_SAME_HALVES = (("clips_key", "the same clips"), ("eval_seed", "the same evaluation seed"),
                ("n_seeds", "the same number of seeds"))


def _unpaired(a: dict, b: dict, score: str, across_settings: bool = False) -> str:
  """Why two rows cannot be compared pairwise ("" when they can)."""
  for key, what in _SAME_HALVES if across_settings else _SAME:
    if a.get(key) in (None, "") or a.get(key) != b.get(key):
      return f"not {what} ({key} {a.get(key)!r} vs {b.get(key)!r})"
  if not str(a.get(f"{score}_halves") or "").strip():
    return f"no half-sample {score} scores (evaluate.interval_draws < 2)"
  if len(_values(a[f"{score}_halves"])) != len(_values(b[f"{score}_halves"])):
    return "different numbers of halves"
  return ""


def compare(a: EmbeddingSet, b: EmbeddingSet, evaluator, scores=("nmi", "ari")
            ) -> list[Comparison]:
  """Evaluates both sets with `evaluator` (a ClusteringEvaluator) and compares every reducer x
  clusterer row. Raises ValueError, naming the first differing clip, unless a and b hold the
  same clips with the same labels."""
  if clips_key(a.ids, a.labels) != clips_key(b.ids, b.labels) or not clips_key(a.ids, a.labels):
    raise ValueError(f"paired comparison needs the same clips in both sets, unique ids, same "
                     f"labels: {_first_difference(a, b)}; evaluate both on one split.")
  rows_a, rows_b = evaluator.evaluate(a).rows, evaluator.evaluate(b).rows
  return [compare_rows(ra, rb, s) for ra, rb in zip(rows_a, rows_b) for s in scores]


def _first_difference(a: EmbeddingSet, b: EmbeddingSet) -> str:
  ids_a, ids_b = [str(i) for i in a.ids], [str(i) for i in b.ids]
  if len(set(ids_a)) != len(ids_a) or len(set(ids_b)) != len(ids_b):
    return "a clip id repeats"
  label_b = dict(zip(ids_b, np.asarray(b.labels).tolist()))
  for i, label in zip(ids_a, np.asarray(a.labels).tolist()):
    if i not in label_b:
      return f"clip {i!r} is only in A"
    if label_b[i] != label:
      return f"clip {i!r} has label {label} in A, {label_b[i]} in B"
  extra = sorted(set(ids_b) - set(ids_a))
  return f"clip {extra[0]!r} is only in B" if extra else "the sets differ"
