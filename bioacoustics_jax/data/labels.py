"""Label strings as users write them -> the class names every builder compares.

Sits below catalog.py and the builders: whatever reads a label (a sub-folder name, a csv cell, a
Raven column, a jsonl annotation) passes it through here, own data and BEANS folders alike.
`canonical` strips, NFC-normalises and writes an integer float (`"2.0"`, as a spreadsheet reads a
number back) as `"2"`. Under the default rule ("merge") labels that differ only in case
(`Robin` / `robin`) or in leading zeros (`01` / `1`) are one class too; the rule "exact" keeps
those apart (`:labels=exact`). Two spellings that meet in one class are never merged silently:
`LabelSet` collects every label of a dataset, names each class by its most common spelling, and
`merge_warnings` names the spellings it merged.
"""

from __future__ import annotations

import collections
import re
import unicodedata

from bioacoustics_jax import option_syntax

RULES = ("merge", "exact")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def canonical(label: object) -> str:
  """Stripped, NFC-normalised text; a number written as an integer float (`2.0`) becomes `2`."""
  text = unicodedata.normalize("NFC", str(label)).strip()
  if _NUMBER.match(text) and not text.lstrip("+-").isdigit():
    value = float(text)
    if value.is_integer() and abs(value) < 1e15:
      return str(int(value))
  return text


def key(label: object, rule: str = "merge") -> str:
  """What two labels must share to be one class: `canonical`, and under "merge" case-folded,
  digits without leading zeros (`007` = `7`)."""
  if rule not in RULES:
    raise ValueError(f"data.labels must be one of {RULES}, got {rule!r}")
  text = canonical(label)
  if rule == "exact":
    return text
  if text.isdigit():
    return str(int(text))
  return text.casefold()


def index_of(label: object, names: tuple[str, ...] | list[str], rule: str = "merge") -> int | None:
  """Position of `label` among class `names` (exact canonical match first, then by `key`)."""
  text = canonical(label)
  if text in names:
    return list(names).index(text)
  wanted = key(text, rule)
  found = [i for i, n in enumerate(names) if key(n, rule) == wanted]
  return found[0] if len(found) == 1 else None


class LabelSet:
  """Collects a dataset's labels as written; classes are their `key`s (see module doc)."""

  def __init__(self, rule: str = "merge"):
    key("", rule)  # checks the rule
    self.rule = rule
    self._written: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    self._forms: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

  def add(self, label: object) -> str:
    """Records one raw label; returns its key (`name` gives the class name once all are in)."""
    k = key(label, self.rule)
    self._written[k][str(label)] += 1
    self._forms[k][canonical(label)] += 1
    return k

  def name(self, label: object) -> str:
    """The class name of a recorded label: the most common canonical spelling of its class
    (ties: the spelling equal to the key, then the first in sorted order)."""
    forms = self._forms[key(label, self.rule)]
    return min(forms, key=lambda f: (-forms[f], f != key(f, self.rule), f))

  @property
  def names(self) -> list[str]:
    """Sorted class names (empty labels excluded)."""
    return sorted(self.name(next(iter(f))) for k, f in self._forms.items() if k)

  def merge_warnings(self, where: str) -> list[dict]:
    """One warning per class reached through more than one spelling (see module doc)."""
    out = []
    for k in sorted(k for k in self._written if k):
      written = self._written[k]
      if len(written) < 2:
        continue
      name = self.name(next(iter(written)))
      spelled = ", ".join(f"{s!r} x{c}" for s, c in sorted(written.items()))
      folded = len(self._forms[k]) > 1  # case or leading zeros, not just spaces / 2.0
      rule = ("labels are stripped, NFC-normalised, numbers made canonical"
              + (", case and leading zeros ignored" if self.rule == "merge" else ""))
      fix = ("rename them" + (f", or set {option_syntax.spell('data.labels', 'exact')} to keep "
                              "case and leading zeros apart" if folded else ""))
      out.append(dict(
          kind="labels_merged", count=sum(written.values()), files=[where],
          message=(f"{where}: label spellings {spelled} were merged into class {name!r} "
                   f"({rule}); if they are different classes, {fix}")))
    return out
