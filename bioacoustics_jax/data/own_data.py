"""A user's own recordings, in whatever layout they come, -> a `catalog.DatasetSource`.

Sits above catalog.py and below pipeline.py: `pipeline.prepare` asks `resolve(path, ...)` when
the dataset is neither a dataset.json folder nor a BEANS name. Accepted layouts (README, "Own
data"):

  PATH/<label>/**/*.wav              one sub-folder per label (any depth, any readable format)
  PATH/{train,valid,test}/<label>/   the same, already split (val/validation/dev = valid)
  PATH.csv                           columns path,label[,group] (`,` or `;`, BOM or not; paths
                                     relative to the csv or absolute)
  PATH/annotations.<split>.csv       BEANS classification csvs
  PATH/<split>.jsonl                 BEANS detection records
  PATH/*.txt + recordings            Raven selection tables (Begin Time (s), End Time (s), a label
                                     column), each next to its recording (same name stem, or a
                                     Begin File / Begin Path column), for detection

Every layout is written out as manifests under `<cache_dir>/own_data/<name>-<hash>/`, one per
split (tfds's split "all", their union, is every file). The suite never writes into the data
folder, so a read-only copy works. Without given splits, `split.csv` there holds a deterministic split stratified by label
and grouped by source recording (a csv's `group` column, else the file), so clips or windows of
one recording never straddle train and test; an existing split.csv that lists the same files is
reused as it is (edit it to move files by hand).

The sample rate (the most common one among the files) and the clip length (classification: the
median file length; detection: 2 s windows, hop half a window) are inferred and logged;
arguments override them.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import logging
import math
import os
import statistics

import soundfile as sf

from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import labels as labels_lib

_log = logging.getLogger(__name__)
# Below this many clips of a class in the test or valid split, a run says so when its data is
# resolved (before any fine-tuning): the evaluator flags such sets "small"
# (evaluate/evaluator.py MIN_PER_CLASS) and a paired test has too few clips to detect anything.
MIN_CLIPS_PER_CLASS = 3

ALL = "all"
SPLIT_ALIASES = {"train": "train", "valid": "valid", "val": "valid", "validation": "valid",
                 "dev": "valid", "test": "test"}
SPLIT_FRACTIONS = {"valid": 0.2, "test": 0.2}  # the rest is train
DETECTION_WINDOW = 2.0
LAYOUTS = ("label folders", "split folders", "csv", "BEANS csv folder", "BEANS jsonl folder",
           "Raven tables")
_LAYOUT_HELP = (
    "accepted: PATH/<label>/*.wav; PATH/{train,valid,test}/<label>/*.wav; a csv with columns "
    "path,label; PATH/annotations.<split>.csv (BEANS); PATH/<split>.jsonl (BEANS detection); "
    "Raven selection tables (.txt) next to their recordings; or a dataset.json (README, 'Own "
    "data')")


def resolve(path: str, *, cache_dir: str, sample_rate: int | None = None,
            clip_seconds: float | None = None, shift_seconds: float | None = None,
            seed: int = 0) -> catalog.DatasetSource:
  """Infers the layout of `path` and returns its DatasetSource (manifests under cache_dir).

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError / annotations.TableError: no accepted layout, or a malformed table; the message
      names the file and the fix.
  """
  path = os.path.abspath(os.path.expanduser(path))
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: does not exist; {_LAYOUT_HELP}")
  if os.path.isfile(path):
    name = os.path.splitext(os.path.basename(path))[0]
    root = os.path.dirname(path)
    layout, splits = "csv", {ALL: _csv_rows(path, root)}
    task, notes = "classification", []
  else:
    name, root = os.path.basename(path), path
    layout, task, splits = _folder_layout(path)
    notes = _unused_recordings(path, splits) if layout == "Raven tables" else []
  out_dir = os.path.join(cache_dir, "own_data",
                         f"{name}-{hashlib.sha1(path.encode()).hexdigest()[:8]}")
  os.makedirs(out_dir, exist_ok=True)
  label_set = labels_lib.LabelSet()
  for rows in splits.values():
    for row in rows:
      if task == "classification":
        row["label"] = label_set.add(row["label"])
      else:
        row["annotations"] = [dict(a, label=label_set.add(a["label"]))
                              for a in row["annotations"]]
  if not label_set.names:
    raise ValueError(f"{path}: no labels found ({layout}); {_LAYOUT_HELP}")
  given_splits = not (ALL in splits and len(splits) == 1)
  if not given_splits:
    splits.update(_assign_splits(splits[ALL], task, out_dir, seed))
  else:
    splits[ALL] = [r for s in catalog.SPLITS for r in splits.get(s, [])]
  rates, durations = _scan(root, splits[ALL], task)
  top = max(rates.values())
  rate = int(sample_rate or max(r for r, n in rates.items() if n == top))  # ties: the higher
  found = ", ".join(f"{r} Hz x{n}" for r, n in sorted(rates.items()))
  if task == "classification":
    clip = clip_seconds or round(statistics.median(durations), 2)
    shift = None
    length = f"clip {clip:g} s ({'data.clip_seconds' if clip_seconds else 'median file length'})"
  else:
    clip = clip_seconds or DETECTION_WINDOW
    shift = shift_seconds or clip / 2  # half a window, as BEANS' 2/1, 4/2, 10/5 s
    length = (f"window {clip:g} s ({'data.clip_seconds' if clip_seconds else 'default'}), "
              f"shift {shift:g} s ({'data.shift_seconds' if shift_seconds else 'half a window'})")
  origin = (f"{layout} at {path}: {task}, {len(splits[ALL])} files, {len(label_set.names)} "
            f"classes; {rate} Hz ({'data.sample_rate' if sample_rate else 'most common'}; "
            f"files: {found}); {length}; splits: "
            + ("given" if given_splits else
               f"made per recording (seed {seed}), {os.path.join(out_dir, 'split.csv')}"))
  _log.info("%s; manifests in %s", origin, out_dir)
  empty = sorted(s for s in catalog.SPLITS if not splits.get(s))
  if empty:  # e.g. no class has the 3 recordings a valid split needs
    notes.append(dict(kind="split_empty", count=len(empty), files=[path], message=(
        f"{path}: split(s) {', '.join(empty)} would be empty and are not offered (a class needs "
        "2 recordings for a test split, 3 for a valid split); add recordings or give splits")))
  if task == "classification":
    notes += _thin_splits(path, splits, label_set.names)
  split_files = {s: _write_manifest(out_dir, s, rows, task) for s, rows in splits.items()
                 if rows and s != ALL}
  info = catalog.DatasetInfo(name=name, task=task, sample_rate=rate, clip_seconds=float(clip),
                             shift_seconds=shift, class_names=tuple(label_set.names))
  listing = [(r["path"], os.path.getsize(p), os.stat(p).st_mtime_ns)
             for r in splits[ALL] if os.path.isfile(p := _full(root, r["path"]))]
  return catalog.DatasetSource(
      info=info, format="audio_folder" if task == "classification" else "beans_detection",
      root=root, split_files=split_files, search_dirs=(root,), unknown_label=None,
      fingerprint=catalog.fingerprint_files(sorted(split_files.values()),
                                            extra=[layout, rate, clip, shift, listing]),
      warnings=tuple(label_set.merge_warnings(path) + notes), origin=origin)


def _thin_splits(path: str, splits: dict[str, list[dict]], names) -> list[dict]:
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


# ---- layouts -------------------------------------------------------------------------------


def _folder_layout(path: str) -> tuple[str, str, dict[str, list[dict]]]:
  entries = sorted(e for e in os.listdir(path) if not e.startswith(("_", ".")))
  files = [e for e in entries if os.path.isfile(os.path.join(path, e))]
  dirs = [e for e in entries if os.path.isdir(os.path.join(path, e))]
  beans_csv = {s: f"annotations.{s}.csv" for s in catalog.SPLITS if f"annotations.{s}.csv" in files}
  if beans_csv:
    return "BEANS csv folder", "classification", {
        s: _csv_rows(os.path.join(path, f), path,  # BEANS paths start at its checkout
                     search=(path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))))
        for s, f in beans_csv.items()}
  jsonl = {s: f"{s}.jsonl" for s in catalog.SPLITS if f"{s}.jsonl" in files}
  if jsonl:
    return "BEANS jsonl folder", "detection", {
        s: _jsonl_rows(os.path.join(path, f), path) for s, f in jsonl.items()}
  tables = [os.path.join(path, f) for f in files if annotations.is_raven_table(
      os.path.join(path, f))]
  if tables:
    return "Raven tables", "detection", {ALL: [_raven_record(t, path) for t in tables]}
  split_dirs = {SPLIT_ALIASES[d.lower()]: d for d in dirs if d.lower() in SPLIT_ALIASES}
  if split_dirs and len(split_dirs) == len(dirs):
    return "split folders", "classification", {
        s: _folder_rows(os.path.join(path, d), path) for s, d in split_dirs.items()}
  if dirs:
    return "label folders", "classification", {ALL: _folder_rows(path, path)}
  tables_csv = [f for f in files if f.lower().endswith(".csv")]
  if len(tables_csv) == 1:
    return "csv", "classification", {ALL: _csv_rows(os.path.join(path, tables_csv[0]), path)}
  raise ValueError(f"{path}: no layout recognised (found {len(files)} files, {len(dirs)} "
                   f"folders); {_LAYOUT_HELP}")


def _unused_recordings(path: str, splits: dict[str, list[dict]]) -> list[dict]:
  """Recordings in a Raven folder that no selection table points to (left out, so said)."""
  used = {os.path.join(path, r["path"]) for rows in splits.values() for r in rows}
  unused = sorted(os.path.join(path, f) for f in os.listdir(path)
                  if catalog.is_audio(f) and os.path.join(path, f) not in used)
  if not unused:
    return []
  names = ", ".join(os.path.basename(p) for p in unused[:10])
  return [dict(kind="no_table", count=len(unused), files=unused[:10], message=(
      f"{path}: {len(unused)} recordings have no selection table and were left out: {names}; "
      "add a table (an empty one makes the recording all background) or move them"))]


def _folder_rows(split_dir: str, root: str) -> list[dict]:
  return [dict(path=os.path.relpath(p, root), label=label, group=os.path.relpath(p, root))
          for p, label in catalog.list_split(split_dir)]


def _csv_rows(csv_path: str, root: str, search: tuple[str, ...] = ()) -> list[dict]:
  """path,label[,group] rows with paths made relative to `root` (or absolute outside it)."""
  rows = annotations.read_rows(csv_path, ("path", "label"))
  base = os.path.dirname(csv_path)
  out = []
  for n, row in enumerate(rows, start=2):
    rel = row["path"].strip()
    if not rel or not row["label"].strip():
      raise annotations.TableError(f"{csv_path}:{n}", "empty path or label",
                                   "fill it in or delete the row")
    candidates = [rel] if os.path.isabs(rel) else [os.path.join(d, rel)
                                                   for d in (base,) + tuple(search)]
    full = next((c for c in candidates if os.path.exists(c)), candidates[0])
    p = _relative(full, root)
    out.append(dict(path=p, label=row["label"], group=(row.get("group") or "").strip() or p))
  return out


def _jsonl_rows(jsonl_path: str, root: str) -> list[dict]:
  out = []
  with open(jsonl_path, encoding="utf-8-sig") as f:
    for n, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        rec = json.loads(line)
        anns = [dict(st=float(a["st"]), ed=float(a["ed"]), label=str(a["label"]))
                for a in rec.get("annotations", [])]
        rel = str(rec["path"])
      except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise annotations.TableError(
            f"{jsonl_path}:{n}", f"not a BEANS detection record ({e!r})",
            'write {"path": ..., "length": seconds, "annotations": [{"st", "ed", "label"}]}')
      candidates = [rel] if os.path.isabs(rel) else [
          os.path.join(d, rel) for d in (root, os.path.dirname(root))]
      full = next((c for c in candidates if os.path.exists(c)), candidates[0])
      out.append(dict(path=_relative(full, root), length=rec.get("length"), annotations=anns,
                      group=_relative(full, root)))
  return out


def _raven_record(table: str, root: str) -> dict:
  selections = annotations.read_raven(table)
  rows = annotations.read_rows(table, (annotations.RAVEN_BEGIN,), delimiters="\t",
                               allow_empty=True)
  named = rows and (rows[0].get("Begin Path") or rows[0].get("Begin File"))
  if named:
    candidates = [named if os.path.isabs(named) else os.path.join(root, named),
                  os.path.join(root, os.path.basename(named))]
  else:
    stem = os.path.basename(table).split(".")[0]
    candidates = [os.path.join(root, f) for f in sorted(os.listdir(root))
                  if catalog.is_audio(f) and os.path.splitext(f)[0] == stem]
  recording = next((c for c in candidates if os.path.isfile(c)), None)
  if recording is None:
    raise annotations.TableError(
        table, "no recording found for this selection table",
        "put the recording next to it with the same name stem (rec1.wav for "
        "rec1.Table.1.selections.txt), or add a Begin File column")
  rel = _relative(recording, root)
  return dict(path=rel, length=None, group=rel,
              annotations=[dict(st=st, ed=ed, label=lbl) for st, ed, lbl in selections])


def _relative(full: str, root: str) -> str:
  full = os.path.abspath(full)
  rel = os.path.relpath(full, root)
  return full if rel.startswith("..") else rel


def _full(root: str, p: str) -> str:
  return p if os.path.isabs(p) else os.path.join(root, p)


# ---- inference, splits, manifests ----------------------------------------------------------


def _scan(root: str, rows: list[dict], task: str) -> tuple[collections.Counter, list[float]]:
  """Sample rates (counted) and file durations, from the headers only."""
  rates, durations = collections.Counter(), []
  for row in rows:
    try:
      info = sf.info(_full(root, row["path"]))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
      continue  # the builder reports it properly (AudioError naming the file)
    if info.samplerate > 0 and info.frames > 0:
      rates[int(info.samplerate)] += 1
      durations.append(info.frames / info.samplerate)
      if task == "detection" and not row.get("length"):
        row["length"] = info.frames / info.samplerate
  if not rates:
    raise ValueError(f"{root}: none of the {len(rows)} audio files could be read; check them "
                     "with `python -c \"import soundfile; print(soundfile.info('FILE'))\"`")
  return rates, durations


def _group_label(row: dict, task: str) -> str:
  if task == "classification":
    return row["label"]
  found = collections.Counter(a["label"] for a in row["annotations"])
  return found.most_common(1)[0][0] if found else ""


def _assign_splits(rows: list[dict], task: str, out_dir: str, seed: int) -> dict[str, list]:
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


def _write_manifest(out_dir: str, split: str, rows: list[dict], task: str) -> str:
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
