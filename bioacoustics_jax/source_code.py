"""The package's own code: which of its modules a computation runs, and their hash.

    upstream(("bioacoustics_jax.cells.jax_cell", "bioacoustics_jax.models.resnet"))
    code_hash(entries)          # sha256 (16 hex) of those modules' sources

A cell key hashes the code that made its embeddings. Which modules that is, is computed, never
listed by hand (a list forgets the module someone adds next): the package's import graph is read
as text (ast, imports inside functions included, a package's `__init__` counted wherever an
import runs it) and walked from the entry points of the computation (cells/: one module per
kind of cell) plus the code a preset names by string (its module, porter and reference, imported
by `zoo.preset.load_attr`, which no import statement shows). Nothing is imported to find them, so
computing a key runs no project code. Code downstream of the embeddings (evaluate/, report/) is
not upstream of any entry point, so it never enters a cell key.

`source_hash` is the older hash of named modules (a package counts with every file under it),
for caches whose code is one named piece (zoo/init_cache.py).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import pathlib
from typing import Iterable

PACKAGE = "bioacoustics_jax"
ROOT = pathlib.Path(__file__).resolve().parent  # the package folder


def module_name(path: str) -> str:
  """"bioacoustics_jax.models.resnet:build" -> "bioacoustics_jax.models.resnet" (a preset's
  import path names an attribute after the colon)."""
  return path.partition(":")[0]


def modules(root: pathlib.Path = ROOT) -> dict[str, pathlib.Path]:
  """Every module of the package under `root` (a package folder named `PACKAGE`): name -> file."""
  root = pathlib.Path(root)
  found = {}
  for path in sorted(root.rglob("*.py")):
    parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
      parts = parts[:-1]
    found[".".join(parts)] = path
  return found


def _with_parents(name: str, known) -> set[str]:
  """The known module `name` resolves to (its deepest known prefix) and every package above it:
  importing `a.b.c` runs `a/__init__`, `a/b/__init__` and `a/b/c`."""
  while name and name not in known:
    name = name.rpartition(".")[0]
  out = set()
  while name:
    if name in known:
      out.add(name)
    name = name.rpartition(".")[0]
  return out


@functools.lru_cache(maxsize=4096)
def _targets(name: str, path: pathlib.Path, is_package: bool,
             stamp: tuple) -> tuple[tuple[str, tuple[str, ...]], ...]:
  """The absolute names module `name` imports, as (module, names imported from it); parsed once
  per file version (`stamp`: its mtime and size)."""
  del stamp  # part of the cache key only
  package = name if is_package else name.rpartition(".")[0]
  out = []
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      out += [(alias.name, ()) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")
        parts = parts[:len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      out.append((base, tuple(alias.name for alias in node.names)))
  return tuple(out)


def _stamp(path: pathlib.Path) -> tuple:
  stat = path.stat()
  return (stat.st_mtime_ns, stat.st_size)


def imports(name: str, path: pathlib.Path, known) -> set[str]:
  """The package's modules that module `name` (at `path`) imports, anywhere in its text."""
  found = set()
  for base, names in _targets(name, path, path.name == "__init__.py", _stamp(path)):
    found |= _with_parents(base, known)
    for attr in names:  # `from pkg import module` runs the module too
      if f"{base}.{attr}" in known:
        found |= _with_parents(f"{base}.{attr}", known)
  return found - {name}


def graph(root: pathlib.Path = ROOT) -> dict[str, tuple[pathlib.Path, frozenset]]:
  """name -> (file, the package modules it imports), for the package under `root`; read anew
  whenever a file changed (each file parsed once per version)."""
  known = modules(root)
  return _graph(tuple((name, path, _stamp(path)) for name, path in known.items()))


@functools.lru_cache(maxsize=8)
def _graph(files: tuple) -> dict[str, tuple[pathlib.Path, frozenset]]:
  known = {name: path for name, path, _ in files}
  return {name: (path, frozenset(imports(name, path, known))) for name, path, _ in files}


def upstream(entries: Iterable[str], root: pathlib.Path = ROOT) -> tuple[str, ...]:
  """Every package module that running `entries` (module names, or "module:attr" import paths)
  can execute: the entries, their imports and theirs, with the packages above each; sorted.
  An entry that is not a module of the package is an error naming it."""
  edges = graph(root)
  todo = []
  for entry in entries:
    name = module_name(entry)
    if name not in edges:
      raise ValueError(f"{entry!r} is not a module of {PACKAGE} (under {root}); a cell's code "
                       "entry points and a preset's import paths must name one.")
    todo += sorted(_with_parents(name, edges))
  seen = set()
  while todo:
    name = todo.pop()
    if name not in seen:
      seen.add(name)
      todo += sorted(edges[name][1] - seen)
  return tuple(sorted(seen))


def code_hash(entries: Iterable[str], root: pathlib.Path = ROOT) -> str:
  """sha256 (16 hex) over the names and sources of `upstream(entries)`: any edit to a module
  the computation can run changes it, an edit anywhere else does not."""
  edges = graph(root)
  digest = hashlib.sha256()
  for name in upstream(entries, root):
    path = edges[name][0]
    digest.update(name.encode() + b"\0")
    digest.update(_source(path, _stamp(path)) + b"\0")
  return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _source(path: pathlib.Path, stamp: tuple) -> bytes:
  del stamp  # part of the cache key only
  return path.read_bytes()


def source_hash(names: tuple[str, ...]) -> str:
  """sha256 (16 hex) of the source files of `names` (import names), read without importing
  them; a package contributes every .py file under its folder (sorted by path), so an edit to
  any of its modules counts; a module that cannot be found contributes its name only."""
  digest = hashlib.sha256()
  for name in names:
    digest.update(name.encode())
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
      continue
    origin = pathlib.Path(spec.origin)
    files = [origin]
    if spec.submodule_search_locations:  # a package: all of its source files
      files = sorted(origin.parent.rglob("*.py"))
    for path in files:
      digest.update(str(path.relative_to(origin.parent)).encode())
      digest.update(path.read_bytes())
  return digest.hexdigest()[:16]
