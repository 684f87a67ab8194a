"""results.csv: the results store, one row per cell x evaluation setting x reducer x clusterer
(and probes.csv beside it), in the columns of schema.py.

Each row names the cell key (a content hash of everything that made its embeddings, cell.py),
the evaluation key (a hash of every evaluator setting) and the run that wrote it
(runs/<run id>/run.json), plus the settings themselves as columns, so rows computed with
different settings coexist and each says what it is. Appending is idempotent: a row whose key
(schema.KEY_COLUMNS) is already in the file replaces the old row, so re-running a finished or
half-finished cell after a crash never duplicates it. Writers take an exclusive lock
(fcntl) on `<results.csv>.lock` around the read-modify-write, so concurrent processes lose no
rows, and each write goes to a temporary file renamed over the old one, so a killed run leaves
either the old or the new file, never a torn one. The file may live at a URI (gs://, through
bioacoustics_jax/paths.py); there is no file lock on a URI, so one writer per results.csv there
(a multi-host run has one: process 0).
"""

from __future__ import annotations

import csv
import math
from typing import Any, Iterable

from bioacoustics_jax import paths
# The one row schema (schema.py); speed_columns and row_key are there too, re-exported for the
# run that fills rows.
from bioacoustics_jax.results.schema import ADDED_COLUMNS
from bioacoustics_jax.results.schema import FLOAT_COLUMNS
from bioacoustics_jax.results.schema import INT_COLUMNS
from bioacoustics_jax.results.schema import KEY_COLUMNS
from bioacoustics_jax.results.schema import OPTIONAL_COLUMNS
from bioacoustics_jax.results.schema import PROBE_COLUMNS
from bioacoustics_jax.results.schema import PROBE_KEY_COLUMNS
from bioacoustics_jax.results.schema import RESULT_COLUMNS
from bioacoustics_jax.results.schema import absent as _absent
from bioacoustics_jax.results.schema import row_key  # noqa: F401
from bioacoustics_jax.results.schema import speed_columns  # noqa: F401

def _format(value: Any) -> str:
  if isinstance(value, float):
    return "nan" if math.isnan(value) else repr(value)  # repr: round-trips exactly
  return str(value)


def _parse(column: str, text: str) -> Any:
  if column in FLOAT_COLUMNS:
    return float(text) if text not in ("", "nan") else math.nan
  if column in INT_COLUMNS:
    return int(float(text)) if text else 0
  return text


def read_results(path: str) -> list[dict[str, Any]]:
  """Rows of results.csv with numbers parsed (NaN for missing scores); [] if it does not exist."""
  if not paths.exists(path):
    return []
  with paths.open_text(path) as f:
    reader = csv.DictReader(f)
    header = tuple(reader.fieldnames or ())
    added = {c: v for c, v in ADDED_COLUMNS.items() if c not in header}
    if header != tuple(c for c in RESULT_COLUMNS if c not in added):
      raise ValueError(f"{path} has columns {list(header)}, expected {list(RESULT_COLUMNS)}. It "
                       "was written by another version; move it aside and re-run (finished "
                       "embeddings are reloaded, not recomputed).")
    return [{c: _parse(c, row[c]) if c in row else added[c] for c in RESULT_COLUMNS}
            for row in reader]


# The file lock every writer of a results file holds (paths.locked, shared with the cell store).
locked = paths.locked


def append_rows(path: str, rows: Iterable[dict[str, Any]]) -> str:
  """Adds `rows` to the csv at `path`, replacing existing rows with the same key (a row may
  leave out ADDED_COLUMNS: their defaults, and OPTIONAL_COLUMNS: not measured)."""
  rows = [{**{c: v for c, v in ADDED_COLUMNS.items() if c not in r},
           **{c: _absent(c) for c in OPTIONAL_COLUMNS if c not in r}, **r} for r in rows]
  return _append(path, rows, RESULT_COLUMNS, KEY_COLUMNS, read_results)


def _read_probe_text(path: str) -> list[dict[str, Any]]:
  if not paths.exists(path):
    return []
  with paths.open_text(path) as f:
    return list(csv.DictReader(f))


def append_probe_rows(path: str, rows: Iterable[dict[str, Any]]) -> str:
  """Adds probe rows to probes.csv (same replacement and locking rules as results.csv)."""
  return _append(path, rows, PROBE_COLUMNS, PROBE_KEY_COLUMNS, _read_probe_text)


def _append(path: str, rows: Iterable[dict[str, Any]], columns: tuple[str, ...],
            key_columns: tuple[str, ...], read) -> str:
  def key(row):
    return tuple(str(row[c]) for c in key_columns)
  new = []
  for r in rows:
    missing = [c for c in columns if c not in r]
    extra = [c for c in r if c not in columns]
    if missing or extra:
      raise ValueError(f"Row for {path} does not match its columns: missing {missing}, unknown "
                       f"{extra}. Rows need exactly {list(columns)}.")
    new.append({c: r[c] for c in columns})
  new_keys = {key(r) for r in new}
  if len(new_keys) != len(new):
    raise ValueError(f"Rows for {path} repeat a key {list(key_columns)}; each cell must be "
                     "reported once.")
  with locked(path):
    kept = [r for r in read(path) if key(r) not in new_keys]
    with paths.open_text(path, "w") as f:  # a temporary file renamed over `path`
      writer = csv.writer(f)
      writer.writerow(columns)
      for row in kept + new:
        writer.writerow([_format(row[c]) for c in columns])
  return path
