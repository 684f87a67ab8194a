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
split (tfds's split "all", their union, is every file); without given splits own_splits.py makes
one. The suite never writes into the data folder, so a read-only copy works. Before any audio is
read: every file under the folder is used or counted as left out by reason (inventory.py), the
labels' spellings are merged as labels.py says, and a file listed twice is used once
(duplicates.py); a path problem in a table names the table and its line.

The sample rate (the most common one among the files) and the clip length (classification: the
median file length; detection: 2 s windows, hop half a window) are inferred and logged;
arguments override them.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import statistics

import soundfile as sf

from bioacoustics_jax import option_syntax
from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import duplicates
from bioacoustics_jax.data import inventory
from bioacoustics_jax.data import labels as labels_lib
from bioacoustics_jax.data import own_splits
from bioacoustics_jax.data import rules as rules_lib

_log = logging.getLogger(__name__)

ALL = "all"
SPLIT_ALIASES = {"train": "train", "valid": "valid", "val": "valid", "validation": "valid",
                 "dev": "valid", "test": "test"}
DETECTION_WINDOW = 2.0
_SAID: set[str] = set()  # warnings already logged by this process
LAYOUTS = ("label folders", "split folders", "csv", "BEANS csv folder", "BEANS jsonl folder",
           "Raven tables")
_LAYOUT_HELP = (
    "accepted: PATH/<label>/*.wav; PATH/{train,valid,test}/<label>/*.wav; a csv with columns "
    "path,label; PATH/annotations.<split>.csv (BEANS); PATH/<split>.jsonl (BEANS detection); "
    "Raven selection tables (.txt) next to their recordings; or a dataset.json (README, 'Own "
    "data')")


def resolve(path: str, *, cache_dir: str, sample_rate: int | None = None,
            clip_seconds: float | None = None, shift_seconds: float | None = None,
            seed: int = 0, skip_missing: bool = False,
            rules: rules_lib.InputRules | None = None) -> catalog.DatasetSource:
  """Infers the layout of `path` and returns its DatasetSource (manifests under cache_dir).

  `skip_missing`: csv rows whose file does not exist are left out and listed (skip_bad_audio);
  `rules`: labels, duplicate files and empty label folders (rules.py).

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError / annotations.TableError: no accepted layout, a malformed table, a name the suite
      cannot index, a file under two labels, a label folder without audio; the message names the
      file (a csv: its line) and the fix.
  """
  rules = rules or rules_lib.InputRules()
  path = os.path.abspath(os.path.expanduser(path))
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: does not exist; {_LAYOUT_HELP}")
  notes: list[dict] = []
  if os.path.isfile(path):
    name = os.path.splitext(os.path.basename(path))[0]
    root = os.path.dirname(path)
    inv = inventory.scan(root, skip=cache_dir)
    layout, task, tables = "csv", "classification", [path]
    splits = {ALL: _csv_rows(path, root, notes=notes, skip_missing=skip_missing)}
  else:
    name, root = os.path.basename(path), path
    inv = inventory.scan(root, skip=cache_dir)
    layout, task, splits, tables = _folder_layout(path, inv, rules, notes, skip_missing)
    if layout == "Raven tables":
      notes += _unused_recordings(path, splits)
  used = {os.path.relpath(_full(root, r["path"]), root) for rows in splits.values() for r in rows}
  used |= {os.path.relpath(t, root) for t in tables}
  if layout == "Raven tables":  # recordings without a table have their own warning
    used |= set(inv.candidates)
  notes += inv.left_out(used, "outside_labels" if "folders" in layout else "not_listed")
  out_dir = os.path.join(cache_dir, "own_data",
                         f"{name}-{hashlib.sha1(path.encode()).hexdigest()[:8]}")
  os.makedirs(out_dir, exist_ok=True)
  label_set = labels_lib.LabelSet(rules.labels)
  for rows in splits.values():
    for row in rows:
      for a in (row["annotations"] if task == "detection" else [row]):
        label_set.add(a["label"])
  for rows in splits.values():
    for row in rows:
      if task == "classification":
        row["label"] = label_set.name(row["label"])
      else:
        row["annotations"] = [dict(a, label=label_set.name(a["label"]))
                              for a in row["annotations"]]
  if not label_set.names:
    raise ValueError(f"{path}: no labels found ({layout}); {_LAYOUT_HELP}")
  if task == "classification":
    splits, found = duplicates.dedupe(splits, lambda p: _full(root, p), rules.duplicates, path)
    notes += found
  given_splits = not (ALL in splits and len(splits) == 1)
  if not given_splits:
    splits.update(own_splits.assign_splits(splits[ALL], task, out_dir, seed))
  else:
    splits[ALL] = [r for s in catalog.SPLITS for r in splits.get(s, [])]
  rates, durations = _scan(path, root, splits[ALL], task)
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
  left_out = sum(n["count"] for n in notes if n["kind"] == "left_out")
  origin = (f"{layout} at {path}: {task}, {len(splits[ALL])} files, {len(label_set.names)} "
            f"classes" + (f" ({left_out} other files under it not used: see below)" if left_out
                          else "") +
            f"; {rate} Hz ({'data.sample_rate' if sample_rate else 'most common'}; "
            f"files: {found}); {length}; splits: "
            + ("given" if given_splits else
               f"made per recording (seed {seed}), {os.path.join(out_dir, 'split.csv')}"))
  _log.info("%s; manifests in %s", origin, out_dir)
  for n in notes:  # once per process: a run resolves a dataset several times
    if n["message"] not in _SAID:
      _SAID.add(n["message"])
      _log.warning("%s", n["message"])
  empty = sorted(s for s in catalog.SPLITS if not splits.get(s))
  if empty:  # e.g. no class has the 3 recordings a valid split needs
    notes.append(dict(kind="split_empty", count=len(empty), files=[path], message=(
        f"{path}: split(s) {', '.join(empty)} would be empty and are not offered (a class needs "
        "2 recordings for a test split, 3 for a valid split); add recordings or give splits")))
  if task == "classification":
    notes += own_splits.thin_splits(path, splits, label_set.names)
  split_files = {s: own_splits.write_manifest(out_dir, s, rows, task)
                 for s, rows in splits.items() if rows and s != ALL}
  info = catalog.DatasetInfo(name=name, task=task, sample_rate=rate, clip_seconds=float(clip),
                             shift_seconds=shift, class_names=tuple(label_set.names))
  listing = [(r["path"], os.path.getsize(p), os.stat(p).st_mtime_ns)
             for r in splits[ALL] if os.path.isfile(p := _full(root, r["path"]))]
  return catalog.DatasetSource(
      info=info, format="audio_folder" if task == "classification" else "beans_detection",
      root=root, split_files=split_files, search_dirs=(root,), unknown_label=None,
      fingerprint=catalog.fingerprint_files(sorted(split_files.values()), extra=[
          layout, rate, clip, shift, listing]),
      warnings=tuple(label_set.merge_warnings(path) + notes), origin=origin, labels=rules.labels)


# ---- layouts -------------------------------------------------------------------------------


def _folder_layout(path: str, inv: inventory.Inventory, rules: rules_lib.InputRules,
                   notes: list[dict], skip_missing: bool
                   ) -> tuple[str, str, dict[str, list[dict]], list[str]]:
  """(layout, task, rows per split, table files used) of a folder."""
  entries = sorted(e for e in os.listdir(path) if not e.startswith(("_", ".")))
  files = [e for e in entries if os.path.isfile(os.path.join(path, e))]
  dirs = [e for e in entries if os.path.isdir(os.path.join(path, e))]
  read = dict(notes=notes, skip_missing=skip_missing)
  beans_csv = {s: f"annotations.{s}.csv" for s in catalog.SPLITS if f"annotations.{s}.csv" in files}
  if beans_csv:
    return "BEANS csv folder", "classification", {
        s: _csv_rows(os.path.join(path, f), path,  # BEANS paths start at its checkout
                     search=(path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))),
                     **read)
        for s, f in beans_csv.items()}, [os.path.join(path, f) for f in beans_csv.values()]
  jsonl = {s: f"{s}.jsonl" for s in catalog.SPLITS if f"{s}.jsonl" in files}
  if jsonl:
    return "BEANS jsonl folder", "detection", {
        s: _jsonl_rows(os.path.join(path, f), path, **read) for s, f in jsonl.items()}, [
            os.path.join(path, f) for f in jsonl.values()]
  tables = [os.path.join(path, f) for f in files if annotations.is_raven_table(
      os.path.join(path, f))]
  if tables:
    return "Raven tables", "detection", {ALL: [_raven_record(t, path) for t in tables]}, tables
  split_dirs = {SPLIT_ALIASES[d.lower()]: d for d in dirs if d.lower() in SPLIT_ALIASES}
  if split_dirs and len(split_dirs) == len(dirs):
    return "split folders", "classification", _label_rows(
        path, {s: os.path.join(path, d) for s, d in split_dirs.items()}, inv, rules, notes), []
  if dirs:
    return "label folders", "classification", _label_rows(path, {ALL: path}, inv, rules,
                                                          notes), []
  tables_csv = [f for f in files if f.lower().endswith(".csv")]
  if len(tables_csv) == 1:
    table = os.path.join(path, tables_csv[0])
    return "csv", "classification", {ALL: _csv_rows(table, path, **read)}, [table]
  raise ValueError(f"{path}: no layout recognised (found {len(files)} files, {len(dirs)} "
                   f"folders); {_LAYOUT_HELP}")


def _label_rows(path: str, split_dirs: dict[str, str], inv: inventory.Inventory,
                rules: rules_lib.InputRules, notes: list[dict]) -> dict[str, list[dict]]:
  """Rows of label sub-folders per split; a label with no usable file in any split stops the
  run, or is dropped with a warning (rules.empty_labels)."""
  splits, empty = {}, {}
  for split in sorted(split_dirs, key=((ALL,) + catalog.SPLITS).index):  # train first
    d = split_dirs[split]
    pairs, no_audio = inventory.label_folders(inv, d)
    splits[split] = [dict(path=p, label=label, group=p, where=os.path.join(path, p))
                     for p, label in pairs]
    for label, held in no_audio.items():
      empty.setdefault(label, f"{os.path.relpath(d, path)}/{label}/: {held}"
                       if split != ALL else held)
  empty = {k: v for k, v in empty.items()
           if not any(r["label"] == k for rows in splits.values() for r in rows)}
  if empty and rules.empty_labels != "drop":
    raise inventory.empty_labels_error(path, empty)
  if empty:
    notes.append(inventory.dropped_warning(path, empty))
  return splits


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


def _locate(rel: str, candidates: list[str], where: str,
            missing: list[tuple[str, str]]) -> str | None:
  """The file a table row names (first existing candidate); a Windows path (backslashes) is read
  with forward slashes. A missing file is recorded in `missing` (where, why) and None returned."""
  inventory.refuse_bad_name(rel, where)
  found = next((c for c in candidates if os.path.exists(c)), None)
  windows = "\\" in rel
  if found is None and windows:
    found = next((c.replace("\\", "/") for c in candidates
                  if os.path.exists(c.replace("\\", "/"))), None)
  if found is None:
    link = next((c for c in candidates if os.path.islink(c)), None)
    why = (f"{link} is a broken symbolic link (to {os.readlink(link)})" if link else
           f"{candidates[0]} does not exist")
    missing.append((where, why + (" (a Windows path: write it with forward slashes /)"
                                  if windows else "")))
  return found


def _missing_rows(table: str, missing: list[tuple[str, str]], skip_missing: bool,
                  notes: list[dict]) -> None:
  """Stops at the first row whose file is missing (naming the table and line), or with
  skip_missing leaves them out with a warning."""
  if not missing:
    return
  more = f" (and {len(missing) - 1} more rows: lines " + ", ".join(
      w.rpartition(":")[2] for w, _ in missing[1:11]) + ")" if len(missing) > 1 else ""
  if not skip_missing:
    raise annotations.TableError(
        missing[0][0], missing[0][1] + more, "correct the path (relative paths are resolved "
        f"against the table's folder) or delete the row, or set "
        f"{option_syntax.spell('data.skip_bad_audio', True)} to leave such rows out")
  notes.append(dict(kind="missing_rows", count=len(missing), files=[table], message=(
      f"{table}: {len(missing)} rows name a file that is not there and were left out "
      f"(skip_bad_audio): " + "; ".join(f"line {w.rpartition(':')[2]}: {why}"
                                         for w, why in missing[:10]))))


def _csv_rows(csv_path: str, root: str, search: tuple[str, ...] = (), *, notes: list[dict],
              skip_missing: bool = False) -> list[dict]:
  """path,label[,group] rows with paths made relative to `root` (or absolute outside it)."""
  rows = annotations.read_rows(csv_path, ("path", "label"))
  base = os.path.dirname(csv_path)
  out, missing, windows = [], [], []
  for n, row in enumerate(rows, start=2):
    rel = row["path"].strip()
    if not rel or not row["label"].strip():
      raise annotations.TableError(f"{csv_path}:{n}", "empty path or label",
                                   "fill it in or delete the row")
    candidates = [rel] if os.path.isabs(rel) else [os.path.join(d, rel)
                                                   for d in (base,) + tuple(search)]
    full = _locate(rel, candidates, f"{csv_path}:{n}", missing)
    if full is None:
      continue
    if "\\" in rel and not any(os.path.exists(c) for c in candidates):
      windows.append(n)
    p = _relative(full, root)
    out.append(dict(path=p, label=row["label"], group=(row.get("group") or "").strip() or p,
                    where=f"{csv_path}:{n}"))
  _missing_rows(csv_path, missing, skip_missing, notes)
  if windows:
    notes.append(dict(kind="windows_paths", count=len(windows), files=[csv_path], message=(
        f"{csv_path}: {len(windows)} rows give Windows paths (backslashes), read with forward "
        f"slashes: lines {', '.join(map(str, windows[:10]))}")))
  return out


def _jsonl_rows(jsonl_path: str, root: str, *, notes: list[dict],
                skip_missing: bool = False) -> list[dict]:
  out, missing = [], []
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
      full = _locate(rel, candidates, f"{jsonl_path}:{n}", missing)
      if full is not None:
        out.append(dict(path=_relative(full, root), length=rec.get("length"), annotations=anns,
                        group=_relative(full, root)))
  _missing_rows(jsonl_path, missing, skip_missing, notes)
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


def _scan(where: str, root: str, rows: list[dict], task: str
          ) -> tuple[collections.Counter, list[float]]:
  """Sample rates (counted) and file durations, from the headers only (`where`: the folder or
  table the user gave, named when nothing can be read)."""
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
    raise ValueError(f"{where}: none of the {len(rows)} audio files could be read; check them "
                     "with `python -c \"import soundfile; print(soundfile.info('FILE'))\"`")
  return rates, durations


