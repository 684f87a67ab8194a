"""How ambiguous input is treated: the switches of README "Own data", one home each.

Each has a default that never loses or invents data silently (stop and say so, or merge and
warn), and a value for users who mean the other thing. `pipeline.config_options` builds an
`InputRules` from `config.data`; config_checks.py checks the values against the tuples here.
"""

from __future__ import annotations

import dataclasses

from bioacoustics_jax.data import labels as labels_lib

LABELS = labels_lib.RULES  # "merge": case / leading-zero / spacing variants are one class
DUPLICATES = ("stop", "keep")  # one file under two labels: stop, or keep both (multi-label)
EMPTY_LABELS = ("stop", "drop")  # a label folder without a usable file: stop, or drop the label


@dataclasses.dataclass(frozen=True)
class InputRules:
  """labels: labels.py's rule; duplicates: what a file listed under two different labels does
  ("keep" uses it under both, said in a warning); empty_labels: what a label folder without a
  usable audio file does ("drop" leaves the label out, said in a warning)."""

  labels: str = "merge"
  duplicates: str = "stop"
  empty_labels: str = "stop"

  def __post_init__(self):
    for name, allowed in (("labels", LABELS), ("duplicates", DUPLICATES),
                          ("empty_labels", EMPTY_LABELS)):
      if getattr(self, name) not in allowed:
        raise ValueError(f"data.{name} must be one of {allowed}, got {getattr(self, name)!r}")

  def suffix(self) -> str:
    """A tag for cache names: "" for the defaults, so their names never change."""
    changed = [f"{f.name}-{getattr(self, f.name)}" for f in dataclasses.fields(self)
               if getattr(self, f.name) != f.default]
    return "".join(f"-{c}" for c in changed)
