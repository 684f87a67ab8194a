"""The same recording listed twice: used once, or a stop when its labels disagree.

A csv that lists a file twice, the same file under two label folders, or two copies of one
recording (different paths, the same bytes) would otherwise be embedded twice (scored twice, and
possibly split across train and test) or under two labels. `dedupe` finds them by resolved path
(symbolic links followed) and by content (sha1, only among files of equal size), keeps the first
row of each file (splits in the order train, valid, test), and:
  - one label: the repeats are dropped, with a warning naming them;
  - two labels: the run stops, naming the file and both labels, unless rules.duplicates is
    "keep" (multi-label use): then it is kept once per label, with a warning saying so.
"""

from __future__ import annotations

import collections
import hashlib
import os

from bioacoustics_jax import option_syntax

MAX_NAMED = 10


_SAMPLE = 4096  # bytes read at the start and the middle of a file for the quick digest
_DIGESTS: dict[tuple, str] = {}  # (real path, size, mtime, quick): a run resolves data repeatedly


def _digest(path: str, quick: bool) -> str:
  """sha1 of the file (quick: of its first and middle _SAMPLE bytes only), memoised."""
  st = os.stat(path)
  key = (path, st.st_size, st.st_mtime_ns, quick)
  if key not in _DIGESTS:
    h = hashlib.sha1()
    with open(path, "rb") as f:
      if quick:
        h.update(f.read(_SAMPLE))
        f.seek(st.st_size // 2)
        h.update(f.read(_SAMPLE))
      else:
        for chunk in iter(lambda: f.read(1 << 20), b""):
          h.update(chunk)
    _DIGESTS[key] = h.hexdigest()
  return _DIGESTS[key]


def _identities(paths: list[str]) -> dict[str, str]:
  """full path -> identity: the real path, or the first real path with the same bytes (files of
  one size are told apart by a quick digest first; only those it cannot split are read whole:
  clips of one length all have one size)."""
  real = {p: os.path.realpath(p) for p in paths}
  groups = collections.defaultdict(set)
  for r in set(real.values()):
    if os.path.isfile(r) and os.path.getsize(r) > 0:  # empty files: the reader's error
      groups[os.path.getsize(r)].add(r)
  for quick in (True, False):
    split = collections.defaultdict(set)
    for size, group in groups.items():
      if len(group) > 1:
        for r in group:
          split[(size, _digest(r, quick))].add(r)
    groups = split
  same = {r: min(group) for group in groups.values() if len(group) > 1 for r in group}
  return {p: same.get(r, r) for p, r in real.items()}


def dedupe(splits: dict[str, list[dict]], full, duplicates: str = "stop", where: str = ""
           ) -> tuple[dict[str, list[dict]], list[dict]]:
  """(the rows with repeats removed, warnings) of classification rows {"path", "label",
  "where"} per split; `full(row_path)` is the file's path on disk; `where` (the dataset)
  starts the warnings (see module doc)."""
  order = [(s, i, r) for s, rows in splits.items() for i, r in enumerate(rows)]
  ids = _identities(sorted({full(r["path"]) for _, _, r in order}))
  groups = collections.defaultdict(list)
  for s, i, r in order:
    groups[ids[full(r["path"])]].append((s, i, r))
  drop, repeated, both = set(), [], []
  for members in groups.values():
    if len(members) < 2:
      continue
    first = {}
    for s, i, r in members:
      if r["label"] in first:
        drop.add((s, i))
        repeated.append((first[r["label"]], r))
      else:
        first[r["label"]] = r
    if len(first) > 1:
      rows = list(first.values())
      if duplicates != "keep":
        same = "" if rows[0]["path"] == rows[1]["path"] else (
            f" ({rows[1]['path']} has the same content)")
        raise ValueError(
            f"{rows[0]['where']} and {rows[1]['where']}: {rows[0]['path']}{same} is listed under "
            f"{len(rows)} labels, " + " and ".join(repr(x["label"]) for x in rows) +
            ". Fix: keep the row with the right label, or set "
            f"{option_syntax.spell('data.duplicates', 'keep')} to use it under each label "
            "(multi-label)")
      both.append(rows)
  out = {s: [r for i, r in enumerate(rows) if (s, i) not in drop] for s, rows in splits.items()}
  warnings = []
  if repeated:
    def how(a, b):
      if a["path"] == b["path"]:
        return "repeats"
      same = os.path.realpath(full(a["path"])) == os.path.realpath(full(b["path"]))
      return "same file as" if same else "same content as"
    named = ", ".join(f"{b['where']} ({how(a, b)} {a['where']})" for a, b in repeated[:MAX_NAMED])
    warnings.append(dict(
        kind="duplicates", count=len(repeated),
        files=[b["path"] for _, b in repeated[:MAX_NAMED]], message=(
            f"{where}: {len(repeated)} rows list a file already used with the same label and "
            f"were left out (each file is used once): {named}")))
  if both:
    named = ", ".join(f"{rows[0]['path']} (" + ", ".join(repr(r["label"]) for r in rows) + ")"
                      for rows in both[:MAX_NAMED])
    warnings.append(dict(
        kind="duplicate_labels_kept", count=len(both),
        files=[rows[0]["path"] for rows in both[:MAX_NAMED]], message=(
            f"{where}: {len(both)} files are used under several labels, once per label "
            "(data.duplicates=keep, multi-label use; the clustering scores count each such file "
            f"once per label): {named}")))
  return out, warnings
