"""How a paper claim is decided (report/paper_grid/claim_tests.py): cases from paired tests, the
verdict over cases, and the paired background-AUC test on constructed windows."""

import numpy as np

from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report.paper_grid import claim_tests
from bioacoustics_jax.report.paper_grid import claims


def _test(verdict):
  return paired.Comparison("pca", "kmeans", "nmi", 0.5, 0.4, 0.1, 0.0, 0.2, verdict,
                           "not the same clips" if verdict == paired.NOT_PAIRED else "")


def test_cases_and_the_verdict_over_them():
  a, b, same, unpaired = (_test(v) for v in (paired.A_BETTER, paired.B_BETTER,
                                             paired.NO_DIFFERENCE, paired.NOT_PAIRED))
  assert claim_tests.case([a, a]) == (claim_tests.HOLDS, "")
  assert claim_tests.case([a, same]) == (claim_tests.NO_DIFFERENCE, "")
  assert claim_tests.case([a, b]) == (claim_tests.CONTRADICTED, "")
  assert claim_tests.case([a, unpaired]) == (claim_tests.NOT_PAIRED, "not the same clips")
  H, C, N, U = (claim_tests.HOLDS, claim_tests.CONTRADICTED, claim_tests.NO_DIFFERENCE,
                claim_tests.NOT_PAIRED)
  assert claim_tests.overall([H, H, N, U])[0] == claim_tests.SUPPORTED
  assert claim_tests.overall([H, C, H])[0] == claim_tests.UNDECIDED  # contradicted once
  assert claim_tests.overall([C, C, N])[0] == claim_tests.CONTRADICTS
  assert claim_tests.overall([N, N, H])[0] == claim_tests.UNDECIDED
  assert claim_tests.overall([U, U]) == (claim_tests.NOT_TESTABLE, {U: 2})
  assert claim_tests.overall([])[0] == claim_tests.NOT_TESTABLE


def test_background_auc_is_compared_on_the_same_windows():
  rng = np.random.default_rng(0)
  background = np.arange(200) < 120
  ids = [f"w{i}" for i in range(200)]
  apart = np.where(background[:, None], 0.0, 3.0) + rng.normal(size=(200, 8))
  mixed = rng.normal(size=(200, 8))
  shuffled = rng.permutation(200)  # another file order of the same windows
  apart_shuffled = (apart[shuffled], background[shuffled], [ids[i] for i in shuffled])
  found = claim_tests.auc_test([(apart, background, ids)], [(mixed, background, ids)],
                               claims.background_auc)
  assert found.verdict == paired.A_BETTER and found.lo > 0 and found.lo <= found.difference
  assert found.a > 0.95 and abs(found.b - 0.5) < 0.1
  same = claim_tests.auc_test([(apart, background, ids)], [apart_shuffled],
                              claims.background_auc)
  assert (same.difference, same.lo, same.hi, same.verdict) == (0.0, 0.0, 0.0,
                                                               paired.NO_DIFFERENCE)
  other = claim_tests.auc_test([(apart, background, ids)],
                               [(mixed[1:], background[1:], ids[1:])], claims.background_auc)
  assert other.verdict == paired.NOT_PAIRED and "different windows" in other.reason
