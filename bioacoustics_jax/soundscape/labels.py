"""Optional labels for an archive's windows, from tables beside the recordings.

For a recording `site/rec1.wav` the first of these that exists gives its annotations:
  site/rec1.csv                        columns start,end,label (seconds; `,` or `;`)
  site/rec1.<anything>.txt             a Raven selection table (rec1.Table.1.selections.txt)
A window gets every label whose annotation overlaps it by the detection rule of data/windows.py
(more than 0.2 of the shorter of the two), joined by "+" in sorted order; "" means none (or no
table). Labels never change an embedding, so they are not part of the store's settings; each
recording's table is named in the manifest.
"""

from __future__ import annotations

import os

import numpy as np

from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import labels as labels_lib
from bioacoustics_jax.data import windows as detection_windows


def table_for(path: str) -> str | None:
  """The annotation table beside the recording at `path`, or None."""
  folder, file = os.path.split(path)
  stem = os.path.splitext(file)[0]
  csv_path = os.path.join(folder, stem + ".csv")
  if os.path.isfile(csv_path):
    return csv_path
  for name in sorted(os.listdir(folder or ".")):
    if name.startswith(stem + ".") and annotations.is_raven_table(os.path.join(folder, name)):
      return os.path.join(folder, name)
  return None


def read(table: str) -> list[tuple[float, float, str]]:
  """(start, end, label) of every annotation in `table` (a csv or a Raven table)."""
  if table.endswith(".csv"):
    rows = annotations.read_rows(table, ("start", "end", "label"), allow_empty=True)
    out = []
    for n, row in enumerate(rows, start=2):
      try:
        out.append((float(row["start"]), float(row["end"]), row["label"]))
      except ValueError as e:
        raise annotations.TableError(f"{table}:{n}", f"start/end is not a number ({e})",
                                     "fix that row") from e
  else:
    out = annotations.read_raven(table)
  return [(st, ed, labels_lib.canonical(label)) for st, ed, label in out]


def window_labels(table: str | None, starts: np.ndarray, window_seconds: float) -> list[str]:
  """The label string of each window starting at `starts` ("" without a table)."""
  if table is None:
    return [""] * len(starts)
  found = read(table)
  names = sorted({label for _, _, label in found})
  index = {name: i for i, name in enumerate(names)}
  multi_hot = detection_windows.window_labels(
      starts, window_seconds, [(st, ed, index[label]) for st, ed, label in found], len(names))
  return ["+".join(n for n, on in zip(names, row) if on) for row in multi_hot]
