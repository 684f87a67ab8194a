"""Detection windows: where windows start, which annotations label them, and background.

Pure numpy, no I/O, so the labelling rule is unit-tested on its own.

The overlap rule follows the BEANS code (earthspecies/beans, `RecognitionDataset`): a window
[s, s + w] gets class c when an annotation (st, ed, c) overlaps it by MORE than 0.2, where the
fraction is  intersection / min(window length, annotation length).  Dividing by the shorter of
the two means a short call fully inside a long window counts (fraction 1), and a long call that
covers the whole window counts too (fraction 1); a call that only grazes the window edge does
not. Zero-length annotations never label anything. `tolerance` (our default 1e-9) keeps float
noise such as 0.20000000000000004 from turning "exactly 0.2" into "more than 0.2"; BEANS compares
the raw float (`overlap > .2`), so `tolerance=0.0` (the paper mode) labels such a window.

Window positions (`rule`): starts are 0, shift, 2*shift, ... in both rules.
- "beans" (the paper mode): exactly BEANS' count, `int((length - w) / shift) + 1` with Python's
  truncation toward zero: a tail shorter than a shift is dropped, a recording shorter than the
  window still gets one (zero-padded) window while length > w - shift, and none at or below
  w - shift.
- "cover_tail" (our default): one more window where (length - w) / shift is not an integer, so
  every second of the recording is in some window (zero-padded past the end), and always at
  least one window. On BEANS' 60 s chunks with 2/1, 4/2, 10/5 the two agree, but the last chunk
  of a source recording is shorter and gets about one extra window under "cover_tail"; BEANS'
  test splits hold those chunks, so the paper mode uses "beans".
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

MIN_OVERLAP = 0.2
DEFAULT_TOLERANCE = 1e-9


WINDOW_RULES = ("cover_tail", "beans")


def window_starts(length_seconds: float, window_seconds: float, shift_seconds: float,
                  *, rule: str = "cover_tail") -> np.ndarray:
  """Start times (seconds) of the windows over a recording of `length_seconds` (module doc)."""
  if window_seconds <= 0 or shift_seconds <= 0:
    raise ValueError(f"window and shift must be positive, got {window_seconds}/{shift_seconds}")
  if length_seconds < 0:
    raise ValueError(f"recording length must be >= 0, got {length_seconds}")
  if rule not in WINDOW_RULES:
    raise ValueError(f"data.window_rule must be one of {WINDOW_RULES}, got {rule!r}")
  span = (length_seconds - window_seconds) / shift_seconds
  if rule == "beans":
    n = max(0, int(span) + 1)  # BEANS: int() truncates toward zero, no rounding
  elif span <= 0:
    n = 1
  else:
    # Round away float noise first so 58/1 does not become ceil(58.000000001) = 59.
    n = int(math.ceil(round(span, 9))) + 1
  return np.arange(n, dtype=np.float64) * shift_seconds


def overlap_fraction(win_st: float, win_ed: float, ann_st: float, ann_ed: float) -> float:
  """Intersection over the shorter of (window, annotation); 0 when either has zero length."""
  denom = min(win_ed - win_st, ann_ed - ann_st)
  if denom <= 0:
    return 0.0
  inter = min(win_ed, ann_ed) - max(win_st, ann_st)
  return max(0.0, inter) / denom


def window_labels(starts: Sequence[float], window_seconds: float,
                  annotations: Iterable[tuple[float, float, int]], num_classes: int,
                  *, min_overlap: float = MIN_OVERLAP,
                  tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
  """Multi-hot float32 labels [num_windows, num_classes]; an all-zero row is background.

  Args:
    starts: window start times in seconds (see `window_starts`).
    window_seconds: window length.
    annotations: (st, ed, class_index) in seconds, class_index in [0, num_classes).
    num_classes: label vector size.
    min_overlap: a window is labelled when the overlap fraction is strictly above this...
    tolerance: ...plus this (1e-9 absorbs float noise; 0.0 compares like BEANS, module doc).
  """
  starts = np.asarray(starts, dtype=np.float64)
  y = np.zeros((len(starts), num_classes), dtype=np.float32)
  for st, ed, c in annotations:
    if not 0 <= int(c) < num_classes:
      raise ValueError(f"annotation class index {c} outside [0, {num_classes})")
    for i, s in enumerate(starts):
      if overlap_fraction(s, s + window_seconds, st, ed) > min_overlap + tolerance:
        y[i, int(c)] = 1.0
  return y


def is_background(multi_hot: np.ndarray) -> np.ndarray | bool:
  """True where no class is present (works on one vector [C] or a batch [N, C])."""
  return ~np.any(np.asarray(multi_hot) > 0, axis=-1)


def cluster_labels(multi_hot: np.ndarray) -> np.ndarray | int:
  """The paper's clustering label: background -> 0, else argmax + 1.

  Accepts one multi-hot vector [C] (returns an int) or a batch [N, C] (returns int64 [N]).
  With several classes present the lowest class index wins (argmax of a 0/1 vector).
  """
  y = np.asarray(multi_hot)
  if y.ndim not in (1, 2):
    raise ValueError(f"cluster_labels expects [C] or [N, C], got shape {y.shape}")
  out = np.where(is_background(y), 0, np.argmax(y, axis=-1) + 1).astype(np.int64)
  return int(out) if y.ndim == 1 else out
