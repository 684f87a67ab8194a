"""Label strings as users write them -> the canonical class names every builder compares.

Sits below catalog.py and the builders: whatever reads a label (a sub-folder name, a csv cell, a
Raven column, a jsonl annotation) passes it through `canonical` first, so `"B32 "`, `"B32"` and a
decomposed `"Mése"` are one class, and a numeric label read back by a spreadsheet as `"2.0"` is
class `"2"`. Two different spellings that meet in one class are never merged silently:
`LabelSet` remembers them and `merge_warnings` names them.
"""

from __future__ import annotations

import collections
import re
import unicodedata

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def canonical(label: object) -> str:
  """Stripped, NFC-normalised text; a number written as an integer float (`2.0`) becomes `2`.

  Digits alone are left as written: `007` may be a ring number, not the number 7.
  """
  text = unicodedata.normalize("NFC", str(label)).strip()
  if _NUMBER.match(text) and not text.lstrip("+-").isdigit():
    value = float(text)
    if value.is_integer() and abs(value) < 1e15:
      return str(int(value))
  return text


class LabelSet:
  """Collects labels as written, keyed by their canonical form."""

  def __init__(self):
    self._spellings: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

  def add(self, label: object) -> str:
    """Records one raw label and returns its canonical form."""
    name = canonical(label)
    self._spellings[name][str(label)] += 1
    return name

  @property
  def names(self) -> list[str]:
    """Sorted canonical class names (empty labels excluded)."""
    return sorted(n for n in self._spellings if n)

  def merge_warnings(self, where: str) -> list[dict]:
    """One warning per class reached through more than one spelling (see module doc)."""
    out = []
    for name in self.names:
      spellings = self._spellings[name]
      if len(spellings) > 1:
        written = ", ".join(f"{s!r} x{c}" for s, c in sorted(spellings.items()))
        out.append(dict(
            kind="labels_merged", count=sum(spellings.values()), files=[where],
            message=(f"{where}: label spellings {written} were merged into class {name!r} "
                     "(labels are stripped, NFC-normalised and numbers made canonical); if they "
                     "are different classes, rename them")))
    return out
