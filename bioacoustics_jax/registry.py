"""One registry type for the suite's name -> thing tables: reducers, clusterers, input recipes,
their PyTorch twins and the PyTorch baselines' architectures.

    REDUCERS = registry.Registry("reducer")
    @REDUCERS.add("pca")                 # or REDUCERS.register("pca", fn)
    def _pca(...): ...
    REDUCERS["pca"]; REDUCERS.names()    # an unknown name: KeyError listing the known ones

A second entry under a name is an error (no silent overrides), and an unknown name fails with
the list of known names and, where the registry has one, how to add a new one. A Registry is a
read-only Mapping, so `name in R`, `R.items()` and `sorted(R)` work as on a dict.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
  """A name that is not registered; the message lists the known names."""


def unknown_name(kind: str, name: str, known: list[str], hint: str = "") -> UnknownNameError:
  """The error for an unknown `name` of `kind`: the nearest known names first, then all."""
  near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
  return UnknownNameError(f"Unknown {kind} {name!r}"
                          + (f" (nearest: {', '.join(near)})" if near else "")
                          + f"; known {kind}s: {', '.join(known)}." + (f" {hint}" if hint else ""))


class Registry(Mapping, Generic[T]):
  """Names -> values of one kind; fails loudly on duplicate and unknown names."""

  def __init__(self, kind: str, entries: Mapping[str, T] | None = None, *, hint: str = ""):
    """kind: what a value is, singular ("reducer"), used in the error messages; entries: the
    initial table; hint: a sentence an unknown-name error appends (how to add one)."""
    self.kind = kind
    self.hint = hint
    self._entries: dict[str, T] = {}
    for name, value in (entries or {}).items():
      self.register(name, value)

  def register(self, name: str, value: T) -> T:
    if name in self._entries:
      raise ValueError(f"{self.kind[:1].upper()}{self.kind[1:]} {name!r} is already registered.")
    self._entries[name] = value
    return value

  def add(self, name: str) -> Callable[[T], T]:
    """A decorator registering what it decorates under `name`."""
    return lambda value: self.register(name, value)

  def names(self) -> list[str]:
    return sorted(self._entries)

  def __getitem__(self, name: str) -> T:
    if name not in self._entries:
      raise unknown_name(self.kind, name, self.names(), self.hint)
    return self._entries[name]

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self._entries)

  def __len__(self) -> int:
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {self.names()})"
