"""Reads report.html's score tables back (a test tool): every number cell with its sort key, seed
spread, interval and highlight, so tests check what a reader sees, not what the code meant.

    cells = html_tables.score_cells(page)       # [Cell(table, column, row, value, ...)]
    problems = html_tables.problems(cells)      # [] when every interval holds its estimate, ...
"""

from __future__ import annotations

import dataclasses
import html.parser
import math
import re

SCORE_TABLES = ("overview-table", "scores-table", "deltas-table")
_INTERVAL = re.compile(r"\[(-?[\d.]+|nan), (-?[\d.]+|nan)\]")
# Shown with 3 decimals: an estimate and its interval may differ by the rounding of both.
ROUNDING = 0.0005


@dataclasses.dataclass
class Cell:
  table: str
  column: str
  row: int
  value: float             # data-v: the unrounded estimate
  css: str                 # "best", "up", "down" or ""
  keys: tuple[str, ...] = ()  # the row's text cells before it (trial, dataset, model, ...)
  spread: str = ""         # the text of <span class="sd">
  interval: tuple[float, float] | None = None  # from <span class="ci">[lo, hi]</span>


class _Parser(html.parser.HTMLParser):
  def __init__(self):
    super().__init__()
    self.cells: list[Cell] = []
    self.table = self.span = None
    self.header: list[str] = []
    self.in_th = False
    self.cell: Cell | None = None
    self.text: str | None = None  # the text cell being read
    self.keys: list[str] = []
    self.column = self.row = 0

  def handle_starttag(self, tag, attrs):
    a = dict(attrs)
    if tag == "table":
      self.table, self.header, self.row = a.get("id"), [], -1
    elif tag == "th":
      self.in_th = True
      self.header.append("")
    elif tag == "tr":
      self.row, self.column, self.keys = self.row + 1, 0, []
    elif tag == "td" and self.table in SCORE_TABLES:
      name = self.header[self.column] if self.column < len(self.header) else ""
      self.column += 1
      if "data-v" in a:
        key = a["data-v"]
        value = -math.inf if key == "-Infinity" else float(key)
        self.cell = Cell(self.table, name, self.row, value, a.get("class") or "",
                         tuple(self.keys))
      elif (a.get("class") or "").split()[:1] == ["t"]:
        self.text = ""
    elif tag == "span" and self.cell is not None:
      self.span = a.get("class")

  def handle_endtag(self, tag):
    if tag == "th":
      self.in_th = False
    elif tag == "span":
      self.span = None
    elif tag == "td" and self.cell is not None:
      self.cells.append(self.cell)
      self.cell = None
    elif tag == "td" and self.text is not None:
      self.keys.append(self.text)
      self.text = None
    elif tag == "table":
      self.table = None

  def handle_data(self, data):
    if self.in_th:
      self.header[-1] += data
    elif self.text is not None:
      self.text += data
    elif self.cell is not None and self.span == "sd":
      self.cell.spread += data
    elif self.cell is not None and self.span == "ci":
      found = _INTERVAL.search(data)
      assert found, f"unreadable interval {data!r}"
      self.cell.interval = (float(found.group(1)), float(found.group(2)))


def score_cells(page: str) -> list[Cell]:
  parser = _Parser()
  parser.feed(page)
  return parser.cells


def is_score(cell: Cell) -> bool:
  """An NMI or ARI cell (the scores with seeds and intervals), not a delta."""
  return cell.column in ("NMI", "ARI") or cell.table == "overview-table" or (
      cell.table == "deltas-table" and not cell.column.endswith("delta"))


def problems(cells: list[Cell]) -> list[str]:
  """What a reviewer would reject: an interval without its estimate, a score without its seed
  spread, a coloured delta whose paired interval holds 0, an uncoloured one whose excludes it."""
  out = []
  for c in cells:
    where = f"{c.table} row {c.row} {c.column} {c.value!r}"
    if not math.isfinite(c.value):
      continue
    if c.interval is not None:
      lo, hi = c.interval
      if not lo - ROUNDING <= c.value <= hi + ROUNDING:
        out.append(f"{where}: interval [{lo}, {hi}] excludes the estimate")
    if is_score(c) and not re.fullmatch(r"± [\d.]+|\(\d+ seeds?\)", c.spread.strip()):
      out.append(f"{where}: no seed spread ({c.spread!r})")
    if c.table == "deltas-table" and c.column.endswith("delta"):
      lo, hi = c.interval if c.interval else (math.nan, math.nan)
      # What the shown interval allows (a bound shown as 0.000 allows both readings).
      allowed = {"up"} if lo > 0 else {"down"} if hi < 0 else {""}
      allowed |= {"up"} if lo == 0 < hi else {"down"} if hi == 0 > lo else set()
      if c.css not in allowed:
        out.append(f"{where}: coloured {c.css!r} but its paired interval is [{lo}, {hi}]")
  return out
