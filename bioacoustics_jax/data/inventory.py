"""Every file under an own-data folder, sorted into used and left out, each left-out one by reason.

own_data.py scans the folder once (`scan`) before any audio is read: a name the suite cannot
index (a newline or another control character, bytes that are not UTF-8) stops the run there,
naming it. The layout then says which of the audio `candidates` it uses, and `left_out` turns the
rest into one warning counting them by reason, so a folder of `.m4a` files, a `.DS_Store` or a
recording the csv forgot is said, not silently dropped. `label_folders` lists a folder of label
sub-folders and finds the labels with no usable file (`empty`), which stop the run unless the
user drops them (rules.EMPTY_LABELS).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import unicodedata

from bioacoustics_jax import option_syntax
from bioacoustics_jax.audio import io as audio_io

SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r", ".ds_store"}
MAX_NAMED = 10
# Why a file is not used (a stable key) -> how the warning says it.
REASONS = {
    "audio_format": "audio in a format this reader cannot open (" + audio_io.CONVERT_FIX + ")",
    "other_extension": "other extensions",
    "hidden": "hidden or system files and folders (names starting with . or _, Thumbs.db, ...)",
    "unreadable": "unreadable (no read permission, or a broken link)",
    "outside_labels": "audio outside any label folder",
    "not_listed": "audio not listed in the table(s)",
}


def bad_name(name: str) -> bool:
  """A control character (newline, tab, ...) or bytes that are not UTF-8 (surrogates)."""
  return any(unicodedata.category(c) in ("Cc", "Cs") for c in name)


def refuse_bad_name(path: str, where: str = "") -> None:
  """Raises a one-line ValueError naming `path` (repr: the newline shows as \\n) and the fix."""
  if bad_name(path):
    raise ValueError(
        f"{where + ': ' if where else ''}{path!r}: the name holds a control character or bytes "
        "that are not UTF-8, which the suite's file index (csv manifests) cannot hold. Fix: "
        "rename it (letters, digits, spaces, - _ . are safe)")


def _hidden(name: str) -> bool:
  return name.startswith(("_", ".")) or name.casefold() in SYSTEM_FILES


@dataclasses.dataclass
class Inventory:
  """A folder's files: `candidates` (readable audio, relative paths) and `others`
  (relative path -> reason of REASONS)."""

  root: str
  candidates: list[str] = dataclasses.field(default_factory=list)
  others: dict[str, str] = dataclasses.field(default_factory=dict)

  def left_out(self, used: set[str], reason: str) -> list[dict]:
    """One warning counting every file not in `used` (relative paths) by reason; a candidate
    not used gets `reason` ("outside_labels" or "not_listed")."""
    found = {rel: why for rel, why in self.others.items() if rel not in used}
    found.update({c: reason for c in self.candidates if c not in used})
    if not found:
      return []
    by_reason = collections.defaultdict(list)
    for rel, why in sorted(found.items()):
      by_reason[why].append(rel)
    parts = []
    for why, rels in sorted(by_reason.items(), key=lambda kv: list(REASONS).index(kv[0])):
      exts = collections.Counter(os.path.splitext(r)[1].lower() or "(none)" for r in rels)
      kinds = ", ".join(f"{e} x{n}" for e, n in exts.most_common(5))
      named = ", ".join(rels[:MAX_NAMED]) + (f" and {len(rels) - MAX_NAMED} more"
                                              if len(rels) > MAX_NAMED else "")
      parts.append(f"{len(rels)} {REASONS[why]} [{kinds}]: {named}")
    return [dict(kind="left_out", count=len(found),
                 reasons={k: len(v) for k, v in by_reason.items()},
                 files=[os.path.join(self.root, r) for r in sorted(found)[:MAX_NAMED]],
                 message=f"{self.root}: {len(found)} files not used: " + "; ".join(parts))]


def scan(root: str, skip: str = "") -> Inventory:
  """Walks `root` (hidden folders are counted, not entered; `skip`, the suite's own cache when
  it lies inside, neither); refuses names it cannot index."""
  inv = Inventory(root)
  readable = set(audio_io.readable_extensions())
  skip = os.path.realpath(skip) if skip else ""
  for folder, dirs, files in os.walk(root):
    rel_folder = os.path.relpath(folder, root)
    for d in list(dirs):
      if skip and os.path.realpath(os.path.join(folder, d)) == skip:
        dirs.remove(d)
      elif _hidden(d):
        inv.others[os.path.normpath(os.path.join(rel_folder, d)) + os.sep] = "hidden"
        dirs.remove(d)
      else:
        refuse_bad_name(os.path.join(folder, d))
    dirs.sort()
    for name in sorted(files):
      rel = os.path.normpath(os.path.join(rel_folder, name))
      full = os.path.join(folder, name)
      ext = os.path.splitext(name)[1].lower()
      if _hidden(name):
        inv.others[rel] = "hidden"
        continue
      refuse_bad_name(full)
      if not os.access(full, os.R_OK) or not os.path.exists(full):
        inv.others[rel] = "unreadable"
      elif ext in readable:
        inv.candidates.append(rel)
      elif ext in audio_io.UNREADABLE_AUDIO:
        inv.others[rel] = "audio_format"
      else:
        inv.others[rel] = "other_extension"
  return inv


def label_folders(inv: Inventory, split_dir: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
  """([(relative audio path, label)], {empty label: what its folder holds}) of a folder whose
  sub-folders are the labels (any depth below them)."""
  base = os.path.relpath(split_dir, inv.root)
  prefix = "" if base == "." else base + os.sep
  labels = sorted(d for d in os.listdir(split_dir)
                  if not _hidden(d) and os.path.isdir(os.path.join(split_dir, d)))
  pairs, empty = [], {}
  for label in labels:
    inside = prefix + label + os.sep
    found = [c for c in inv.candidates if c.startswith(inside)]
    pairs += [(c, label) for c in found]
    if not found:
      held = collections.Counter(why for rel, why in inv.others.items() if rel.startswith(inside))
      empty[label] = ", ".join(f"{n} {REASONS[w].split(' (')[0]}" for w, n in held.items()) or (
          "no files")
  return pairs, empty


def empty_labels_error(where: str, empty: dict[str, str]) -> ValueError:
  shown = "; ".join(f"{label!r}: {held}" for label, held in empty.items())
  return ValueError(
      f"{where}: {len(empty)} label folder(s) with no usable audio file ({shown}); readable: "
      f"{', '.join(audio_io.readable_extensions())}. Fix: add or convert the files "
      f"({audio_io.CONVERT_FIX}), or set {option_syntax.spell('data.empty_labels', 'drop')} "
      "to leave the label out")


def dropped_warning(where: str, empty: dict[str, str]) -> dict:
  shown = "; ".join(f"{label!r}: {held}" for label, held in empty.items())
  return dict(kind="labels_dropped", count=len(empty), files=[where], message=(
      f"{where}: {len(empty)} label folder(s) with no usable audio file were left out with "
      f"their class (data.empty_labels=drop): {shown}"))
