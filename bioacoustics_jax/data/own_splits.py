"""Own data's splits and manifests: the split made when the data brings none, and each split
written out as the file the builders read.

Without given splits, `split.csv` holds a deterministic split stratified by label and grouped
by source recording (a csv's `group` column, else the file), so clips or windows of one recording
never straddle train and test; an existing split.csv that lists the same files is reused as it
is (edit it to move files by hand). own_data.py calls `assign_splits` and `write_manifest`.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import logging
import math
import os

from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import catalog

_log = logging.getLogger(__name__)

SPLIT_FRACTIONS = {"valid": 0.2, "test": 0.2}  # the rest is train
# Below this many clips of a class in the test or valid split, a run says so when its data is
# resolved (before any fine-tuning): the evaluator flags such sets "small"
# (evaluate/evaluator.py MIN_PER_CLASS) and a paired test has too few clips to detect anything.
MIN_CLIPS_PER_CLASS = 3


def _group_label(row: dict, task: str) -> str:
  if task == "classification":
    return row["label"]
  found = collections.Counter(a["label"] for a in row["annotations"])
  return found.most_common(1)[0][0] if found else ""


def assign_splits(rows: list[dict], task: str, out_dir: str, seed: int) -> dict[str, list]:
  """train/valid/test by group (recording), stratified by the group's majority label."""
  split_csv = os.path.join(out_dir, "split.csv")
  keys = sorted((r["path"], str(_group_label(r, task))) for r in rows)
  previous = _read_split_csv(split_csv)
  if previous is not None and sorted(previous) == keys:
    _log.info("reusing the split in %s", split_csv)
    by_path = {p: s for (p, _), s in previous.items()}
  else:
    groups = collections.defaultdict(list)
    for r in rows:
      groups[r["group"]].append(r)
    per_label = collections.defaultdict(list)
    for g, members in groups.items():
      label = collections.Counter(_group_label(m, task) for m in members).most_common(1)[0][0]
      per_label[label].append(g)
    split_of = {}
    for label, gs in per_label.items():
      gs.sort(key=lambda g: hashlib.sha1(f"{seed}:{g}".encode()).hexdigest())
      n = len(gs)
      n_test = max(1, round(SPLIT_FRACTIONS["test"] * n)) if n >= 2 else 0
      n_valid = max(1, round(SPLIT_FRACTIONS["valid"] * n)) if n >= 3 else 0
      for i, g in enumerate(gs):
        split_of[g] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    by_path = {r["path"]: split_of[r["group"]] for r in rows}
    with open(split_csv, "w", newline="", encoding="utf-8") as f:
      w = csv.writer(f)
      w.writerow(["path", "label", "group", "split"])
      for r in sorted(rows, key=lambda r: r["path"]):
        w.writerow([r["path"], _group_label(r, task), r["group"], by_path[r["path"]]])
    _log.info("wrote a stratified split grouped by recording (seed %d) to %s", seed, split_csv)
  return {s: [r for r in rows if by_path[r["path"]] == s] for s in catalog.SPLITS}


def _read_split_csv(path: str) -> dict | None:
  if not os.path.isfile(path):
    return None
  try:
    rows = annotations.read_rows(path, ("path", "label", "split"))
  except annotations.TableError:
    return None
  if any(r["split"] not in catalog.SPLITS for r in rows):
    return None
  return {(r["path"], r["label"]): r["split"] for r in rows}


def write_manifest(out_dir: str, split: str, rows: list[dict], task: str) -> str:
  """The split as a file the builders read: csv path,label (classification) or BEANS jsonl."""
  if task == "classification":
    path = os.path.join(out_dir, f"{split}.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
      w = csv.writer(f)
      w.writerow(["path", "label"])
      w.writerows((r["path"], r["label"]) for r in rows)
  else:
    path = os.path.join(out_dir, f"{split}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
      for r in rows:
        rec = {"path": r["path"], "annotations": [
            {"st": a["st"], "ed": a["ed"], "label": a["label"]} for a in r["annotations"]]}
        if r.get("length"):
          rec["length"] = float(r["length"])
        f.write(json.dumps(rec) + "\n")
  return path


def thin_splits(path: str, splits: dict[str, list[dict]], names) -> list[dict]:
  """Warns now, before any fine-tuning, about evaluated splits with fewer than
  MIN_CLIPS_PER_CLASS clips of some class (their scores are flagged "small", and no paired test
  can tell two models apart on them)."""
  notes = []
  for split in ("test", "valid"):
    counts = collections.Counter(r["label"] for r in splits.get(split, []))
    thin = [f"{name} ({counts.get(name, 0)})" for name in names
            if counts.get(name, 0) < MIN_CLIPS_PER_CLASS]
    if thin and splits.get(split):
      needed = math.ceil((MIN_CLIPS_PER_CLASS - 0.5) / SPLIT_FRACTIONS[split])  # round() >= MIN
      message = (f"{path}: the {split} split has fewer than {MIN_CLIPS_PER_CLASS} clips of "
                 f"{', '.join(thin)}; its clustering scores will be flagged small and cannot "
                 f"separate models. Add recordings ({needed} per class give a made split "
                 f"{MIN_CLIPS_PER_CLASS} or more) or give split folders "
                 "PATH/{train,valid,test}/<label>/")
      _log.warning("%s", message)
      notes.append(dict(kind="split_small", count=len(thin), files=[path], message=message))
  return notes
