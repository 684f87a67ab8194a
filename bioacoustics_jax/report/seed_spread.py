"""A score as every report shows it: the mean over `evaluate.seeds` ± their standard deviation.

    seed_spread.text(row, "nmi")        # "0.290 ± 0.011", "0.290 (1 seed)", "n/a"
    seed_spread.mean_sd(0.29, 0.011, 5) # the same from numbers

A results row's score is already the mean over its seeds (evaluate/evaluator.py) and
`<score>_sd` their standard deviation (NaN for one seed); with one seed there is no spread to
show, and the cell says so rather than showing the mean alone as if it had none. Shared by
report.md, report.html and paper_report.md, so the three read alike.
"""

from __future__ import annotations

import math
from typing import Any


def _finite(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def spread(sd: Any, n_seeds: Any, digits: int = 3) -> str:
  """"± sd" over `n_seeds` seeds, or "(1 seed)" where there is no spread."""
  if _finite(sd) and _finite(n_seeds) and n_seeds > 1:
    return f"± {sd:.{digits}f}"
  seeds = int(n_seeds) if _finite(n_seeds) and n_seeds >= 1 else 1
  return f"({seeds} seed{'' if seeds == 1 else 's'})"


def mean_sd(mean: Any, sd: Any, n_seeds: Any, digits: int = 3) -> str:
  """"mean ± sd" over `n_seeds` seeds; "mean (1 seed)" without a spread; "n/a" for no mean."""
  if not _finite(mean):
    return "n/a"
  return f"{mean:.{digits}f} {spread(sd, n_seeds, digits)}"


def row_spread(row: dict, score: str, digits: int = 3) -> str:
  """A row's seed spread of `score` (`<score>_sd` over `n_seeds`): "± 0.011" or "(1 seed)"."""
  return spread(row.get(f"{score}_sd"), row.get("n_seeds") or 1, digits)


def text(row: dict, score: str, digits: int = 3) -> str:
  """A row's `score` as mean ± sd over its seeds (`<score>_sd`, `n_seeds`)."""
  return mean_sd(row.get(score), row.get(f"{score}_sd"), row.get("n_seeds") or 1, digits)


def has_spread(row: dict, score: str) -> bool:
  """True when the row carries a seed spread for `score` (a sd over more than one seed)."""
  return _finite(row.get(f"{score}_sd")) and (row.get("n_seeds") or 0) > 1
