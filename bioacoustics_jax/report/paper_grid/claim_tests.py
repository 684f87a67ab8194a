"""How a claim of the paper is decided: paired tests per case (evaluate/paired.py), then one
verdict over the cases. claims.py states the claims and builds their cases from here.

A case (a dataset, a detection dataset x regime, a model x dataset) is decided by paired tests
on the same clips: HOLDS when every test finds the claimed side better, CONTRADICTED when any
finds the other side better, NO DIFFERENCE when none detects a difference, and NOT PAIRED (the
reason kept) when a test cannot be made, e.g. two different clip sets. The claim's verdict over
the decided (paired) cases:

  SUPPORTED      holds on more than half of them and is contradicted on none
  CONTRADICTED   contradicted on more than half of them and holds on none
  UNDECIDED      the rest (mostly no detectable difference, or holds on some, contradicted on
                 others): the tests ran and found no consistent answer
  NOT TESTABLE   no case could be decided: no cells with the numbers it needs, or every test
                 unpaired (the line names why)

The background AUC (claim 2) is paired by half-sampling too: the same background-stratified
halves of the same windows for every model, the AUC re-computed on each half (half_samples.py,
paired.from_halves).
"""

from __future__ import annotations

import collections
import math
from typing import Callable, Sequence

import numpy as np

from bioacoustics_jax.evaluate import half_samples
from bioacoustics_jax.evaluate import paired

HOLDS, CONTRADICTED, NO_DIFFERENCE, NOT_PAIRED = ("holds", "contradicted",
                                                  "no detectable difference", "not paired")
SUPPORTED, CONTRADICTS, UNDECIDED, NOT_TESTABLE = ("SUPPORTED", "CONTRADICTED", "UNDECIDED",
                                                  "NOT TESTABLE")
RULE = ("Each case is decided by paired tests on the same clips: it holds when every test finds "
        "the claimed side better, is contradicted when any finds the other side better, shows "
        "no detectable difference otherwise, and is not paired when a test cannot be made "
        "(other clips, no half-sample scores). SUPPORTED: holds on more than half of the "
        "paired cases and contradicted on none; CONTRADICTED: contradicted on more than half "
        "and holds on none; UNDECIDED: the rest; NOT TESTABLE: no case could be paired.")
AUC_DRAWS = 10  # halves for the background-AUC test (as evaluate.interval_draws)
AUC_SEED = 0


def case(tests: Sequence[paired.Comparison]) -> tuple[str, str]:
  """(case verdict, reason) from paired tests whose A is the side the claim says is better."""
  unpaired = [t for t in tests if t.verdict == paired.NOT_PAIRED]
  if not tests or unpaired:
    return NOT_PAIRED, unpaired[0].reason if unpaired else "no test"
  if all(t.verdict == paired.A_BETTER for t in tests):
    return HOLDS, ""
  if any(t.verdict == paired.B_BETTER for t in tests):
    return CONTRADICTED, ""
  return NO_DIFFERENCE, ""


def overall(cases: Sequence[str]) -> tuple[str, dict[str, int]]:
  """The claim's verdict over its cases' verdicts (module doc), and the counts."""
  counts = collections.Counter(cases)
  decided = len(cases) - counts[NOT_PAIRED]
  if decided == 0:
    return NOT_TESTABLE, dict(counts)
  if counts[HOLDS] > decided / 2 and counts[CONTRADICTED] == 0:
    return SUPPORTED, dict(counts)
  if counts[CONTRADICTED] > decided / 2 and counts[HOLDS] == 0:
    return CONTRADICTS, dict(counts)
  return UNDECIDED, dict(counts)


def counts_text(counts: dict[str, int]) -> str:
  return ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "no case"


def interval_text(test: paired.Comparison) -> str:
  if not (math.isfinite(test.lo) and math.isfinite(test.hi)):
    return "n/a"
  return f"{test.difference:+.3f} [{test.lo:+.3f}, {test.hi:+.3f}]"


def auc_test(sets_a: Sequence[tuple[np.ndarray, np.ndarray, list]],
             sets_b: Sequence[tuple[np.ndarray, np.ndarray, list]],
             auc: Callable[[np.ndarray, np.ndarray], float]) -> paired.Comparison:
  """Mean `auc` of the A models minus that of the B models, paired over the same windows: each
  set is (embeddings, is_background, ids); every model must hold the same windows (ids) with
  the same background flags, else NOT PAIRED. The same background-stratified halves of the
  windows for every model; the difference on each half gives the paired interval."""
  base = dict(reducer="", clusterer="", score="background AUC")
  aligned = _aligned(list(sets_a) + list(sets_b))
  if isinstance(aligned, str):
    return paired.Comparison(**base, a=math.nan, b=math.nan, difference=math.nan, lo=math.nan,
                             hi=math.nan, verdict=paired.NOT_PAIRED, reason=aligned)
  xs, y = aligned
  k = len(sets_a)

  def difference(rows):
    values = [auc(x[rows], y[rows]) for x in xs]
    return float(np.mean(values[:k]) - np.mean(values[k:])), values

  full, values = difference(np.arange(len(y)))
  subsets = half_samples.halves(y.astype(int), AUC_DRAWS, AUC_SEED)
  diffs = [difference(rows)[0] for rows in subsets]
  base.update(a=float(np.mean(values[:k])), b=float(np.mean(values[k:])), difference=full)
  return paired.from_halves(base, diffs, [len(s) for s in subsets], len(y))


def _aligned(sets) -> tuple[list[np.ndarray], np.ndarray] | str:
  """Every set's embeddings in one order (sorted ids) and the shared background flags; or why
  they cannot be paired."""
  first_ids = sorted(map(str, sets[0][2]))
  if len(set(first_ids)) != len(first_ids):
    return "a window id repeats"
  xs, flags = [], None
  for x, is_background, ids in sets:
    ids = [str(i) for i in ids]
    if sorted(ids) != first_ids:
      return "the models' embedding files hold different windows"
    order = np.argsort(np.asarray(ids), kind="stable")
    xs.append(np.asarray(x)[order])
    y = np.asarray(is_background, bool)[order]
    if flags is not None and not np.array_equal(flags, y):
      return "the models' files label the same windows differently"
    flags = y
  return xs, flags
