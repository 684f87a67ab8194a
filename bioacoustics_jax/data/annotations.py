"""Reading annotation tables as people save them: csv from Excel or pandas, Raven selections.

The lowest layer of data/: files -> rows of strings, with no knowledge of datasets. catalog.py
(class names, layouts) and the builders (examples) both read tables through here, so a csv saved
by Excel as "CSV UTF-8" (a byte-order mark), with `;` as separator (European Excel), or with
numeric labels read back as floats works everywhere the same way, and a malformed table fails
with its path, what is wrong and the fix.
"""

from __future__ import annotations

import csv
import os

RAVEN_BEGIN = "Begin Time (s)"
RAVEN_END = "End Time (s)"
# Raven's own columns; any other column of a selection table can hold the label.
_RAVEN_STANDARD = {"selection", "view", "channel", "begin time (s)", "end time (s)",
                   "low freq (hz)", "high freq (hz)", "begin file", "begin path", "file offset (s)",
                   "delta time (s)", "delta freq (hz)", "avg power density (db fs/hz)",
                   "annotation", "notes"}
RAVEN_LABEL_COLUMNS = ("label", "Label", "species", "Species", "class", "Class", "Annotation",
                       "annotation", "type", "Type", "call", "Call")


class TableError(ValueError):
  """A table that cannot be read: names the file, the reason and the fix."""

  def __init__(self, path: str, reason: str, fix: str):
    self.path, self.reason, self.fix = os.fspath(path), reason, fix
    super().__init__(f"{self.path}: {reason}. Fix: {fix}")

  def __reduce__(self):
    return (type(self), (self.path, self.reason, self.fix))


def _sniff_delimiter(header: str, candidates: str) -> str:
  counts = {d: header.count(d) for d in candidates}
  best = max(counts, key=counts.get)
  return best if counts[best] else candidates[0]


def read_rows(path: str, required: tuple[str, ...], *, delimiters: str = ",;\t",
              allow_empty: bool = False) -> list[dict[str, str]]:
  """Rows of a delimited text table as dicts (header names stripped), in file order.

  The delimiter is the one of `delimiters` found most in the header line; a UTF-8 byte-order
  mark is dropped. Raises TableError when the file is empty, has no data rows (unless
  `allow_empty`) or lacks a `required` column.
  """
  with open(path, newline="", encoding="utf-8-sig") as f:
    text = f.read()
  lines = text.splitlines()
  if not lines or not lines[0].strip():
    raise TableError(path, "the table is empty (no header line)",
                     f"write a header line `{','.join(required)}` and one row per file")
  delimiter = _sniff_delimiter(lines[0], delimiters)
  reader = csv.DictReader(lines, delimiter=delimiter)
  fields = [(name or "").strip() for name in (reader.fieldnames or [])]
  missing = [c for c in required if c not in fields]
  if missing:
    raise TableError(path, f"needs columns {list(required)}, has {fields} (read with "
                           f"separator {delimiter!r})",
                     f"rename the header to `{','.join(required)}` (extra columns are ignored)")
  rows = []
  for row in reader:
    clean = {(k or "").strip(): (v if isinstance(v, str) else "") for k, v in row.items()}
    if any(v.strip() for v in clean.values()):
      rows.append(clean)
  if not rows and not allow_empty:
    raise TableError(path, "the table has a header but no rows",
                     "add one row per audio file, or remove the file")
  return rows


def is_raven_table(path: str) -> bool:
  """True for a Raven selection table (tab-separated, with Begin/End Time columns)."""
  if not path.lower().endswith(".txt"):
    return False
  try:
    with open(path, encoding="utf-8-sig") as f:
      header = f.readline()
  except (OSError, UnicodeDecodeError):
    return False
  cols = [c.strip() for c in header.split("\t")]
  return RAVEN_BEGIN in cols and RAVEN_END in cols


def raven_label_column(path: str, fields: list[str]) -> str:
  """The column that holds the label: a known name, else the one non-standard column."""
  for name in RAVEN_LABEL_COLUMNS:
    if name in fields:
      return name
  extra = [f for f in fields if f.lower() not in _RAVEN_STANDARD]
  if len(extra) == 1:
    return extra[0]
  raise TableError(path, f"no label column among {fields}",
                   f"add a column named one of {list(RAVEN_LABEL_COLUMNS[:6])}")


def read_raven(path: str) -> list[tuple[float, float, str]]:
  """(begin, end, raw label) of every selection (none for a header-only table); Raven's
  waveform+spectrogram duplicates (same Selection number, two Views) are read once."""
  rows = read_rows(path, (RAVEN_BEGIN, RAVEN_END), delimiters="\t", allow_empty=True)
  if not rows:  # a table with no selections: the recording is all background
    return []
  column = raven_label_column(path, list(rows[0]))
  out, seen = [], set()
  for n, row in enumerate(rows, start=2):
    key = row.get("Selection") or f"row{n}"
    if key in seen:
      continue
    seen.add(key)
    try:
      st, ed = float(row[RAVEN_BEGIN]), float(row[RAVEN_END])
    except ValueError as e:
      raise TableError(f"{path}:{n}", f"begin/end time is not a number ({e})",
                       "fix that row") from e
    out.append((st, ed, row[column]))
  return out
