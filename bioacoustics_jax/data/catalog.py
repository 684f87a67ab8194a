"""Which datasets exist and how they are laid out on disk.

Two kinds of dataset folders resolve here to the same `DatasetSource`:
- folders with a `dataset.json` (the built-in synthetic suite writes one; a user's own audio folder
  can too): that file says the task, rate, clip or window/shift and class names;
- real BEANS folders (what BEANS' download scripts leave under `beans/data/`), described by the
  roster table below (PAPER.md), with class names read from the annotation files.

Everything downstream (builders, pipeline) sees only `DatasetInfo` + `DatasetSource`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import logging
import os
from typing import Any

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import beans_classes
from bioacoustics_jax.data import labels as labels_lib

_log = logging.getLogger(__name__)

TASKS = ("classification", "detection")
SPLITS = ("train", "valid", "test")
FORMATS = ("beans_classification", "beans_detection", "audio_folder")
DATASET_JSON = "dataset.json"
AUDIO_EXTENSIONS = audio_io.readable_extensions()  # what libsndfile here opens

BEANS_HELP = (
    "BEANS data is not downloaded by this suite (about 300 GB). Get it with the scripts of "
    "github.com/earthspecies/beans (`pip install -e .` there, then `python scripts/<dataset>.py` "
    "or `scripts/download_data.sh`), which write `beans/data/<dataset>/...`; then pass "
    "data_root=/path/to/beans/data. Or run on the built-in synthetic suite "
    "(bioacoustics_jax.data.synthetic.write_suite(root)).")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a model and an evaluator need to know about a dataset.

  For detection sets `clip_seconds` is the window length and `shift_seconds` the hop between
  windows; for classification sets `shift_seconds` is None.
  """

  name: str
  task: str  # "classification" | "detection"
  sample_rate: int
  clip_seconds: float
  shift_seconds: float | None
  class_names: tuple[str, ...]

  def __post_init__(self):
    if self.task not in TASKS:
      raise ValueError(f"dataset {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
    if self.sample_rate <= 0 or self.clip_seconds <= 0:
      raise ValueError(f"dataset {self.name!r}: sample_rate and clip_seconds must be positive")
    if self.task == "detection" and not self.shift_seconds:
      raise ValueError(f"dataset {self.name!r}: detection sets need shift_seconds")
    if not self.class_names:
      raise ValueError(f"dataset {self.name!r}: no class names")

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def num_samples(self, sample_rate: int | None = None) -> int:
    """Samples per example (clip or window) at `sample_rate` (default: the dataset's own)."""
    return int(round(self.clip_seconds * (sample_rate or self.sample_rate)))


@dataclasses.dataclass(frozen=True)
class DatasetSource:
  """Where a dataset's files are and how to read them.

  Attributes:
    info: the dataset's `DatasetInfo`.
    format: which builder reads it (one of FORMATS).
    root: the dataset folder.
    split_files: split -> annotation file (csv or jsonl); for an audio folder, split -> folder
      or csv.
    search_dirs: folders relative audio paths are resolved against, in order.
    unknown_label: class that labels outside `class_names` map to (BEANS enabirds: OTHR), or None
      (then an unknown label is an error).
    fingerprint: hash of the annotation files and dataset.json; changes when the data changes, so
      prepared tfds data is never stale.
    warnings: dataset-level input warnings found while resolving it (e.g. label spellings merged),
      dicts {"kind", "count", "files", "message"} like the builders' per-split ones.
    origin: one sentence on where the dataset came from and what was inferred (layout, rate,
      clip length), for the log and report.md; "" for dataset.json and BEANS sources.
    labels: the label rule of labels.py ("merge" | "exact") the builders match labels by.
  """

  info: DatasetInfo
  format: str
  root: str
  split_files: dict[str, str]
  search_dirs: tuple[str, ...]
  unknown_label: str | None
  fingerprint: str
  warnings: tuple[dict, ...] = ()
  origin: str = ""
  labels: str = "merge"

  def resolve_audio_path(self, path: str) -> str:
    """First existing candidate for an annotation's audio path (else the first candidate)."""
    if os.path.isabs(path):
      return path
    candidates = [os.path.join(d, path) for d in self.search_dirs]
    for c in candidates:
      if os.path.exists(c):
        return c
    return candidates[0]


# The BEANS roster (PAPER.md). `folder` and `files` follow what BEANS' download scripts write.
# Class names are read from the annotation files, except where BEANS fixes a list with an
# "unknown" class (labels outside the list map to it).
_ENABIRDS = ("AMCR AMGO AMRE AMRO BAWW BCCH BGGN BHCO BHVI BLJA BTNW BWWA CARW COYE EATO HETH HOWA "
             "KEWA LOWA NOCA NOFL OVEN RBGR RBWO RCKI REVI SCTA SWTH TUTI WBNU WITU WOTH YBCU "
             "OTHR").split()
_CLS_FILES = {s: f"annotations.{s}.csv" for s in SPLITS}
_DET_FILES = {s: f"{s}.jsonl" for s in SPLITS}
BEANS_ROSTER: dict[str, dict[str, Any]] = {
    "watkins": dict(task="classification", sample_rate=44100, clip=3, classes=31,
                    folder="watkins", files=_CLS_FILES),
    "bats": dict(task="classification", sample_rate=250000, clip=5, classes=10,
                 folder="egyptian_fruit_bats", files=_CLS_FILES),
    "cbi": dict(task="classification", sample_rate=44100, clip=10, classes=264,
                folder="cbi", files=_CLS_FILES),
    "dogs": dict(task="classification", sample_rate=44100, clip=10, classes=10,
                 folder="dogs", files=_CLS_FILES),
    "humbugdb": dict(task="classification", sample_rate=44100, clip=3, classes=14,
                     folder="HumBugDB", files={s: f"data/metadata/{s}.csv" for s in SPLITS}),
    "dcase": dict(task="detection", sample_rate=16000, clip=2, shift=1, classes=18,
                  folder="dcase", files=_DET_FILES),
    "enabirds": dict(task="detection", sample_rate=32000, clip=2, shift=1, classes=34,
                     folder="enabirds", files=_DET_FILES, labels=_ENABIRDS, unknown="OTHR"),
    "hiceas": dict(task="detection", sample_rate=22050, clip=10, shift=5, classes=1,
                   folder="hiceas", files=_DET_FILES),
    "rfcx": dict(task="detection", sample_rate=48000, clip=10, shift=5, classes=24,
                 folder="rfcx", files=_DET_FILES),
    "hainan-gibbons": dict(task="detection", sample_rate=9600, clip=4, shift=2, classes=3,
                           folder="hainan_gibbons", files=_DET_FILES, labels=("1", "2", "3"),
                           unknown="1"),
}


def fingerprint_files(paths: list[str], extra: Any = None) -> str:
  """sha1 over file contents (in order) and a JSON-able `extra`; 16 hex chars.

  A folder (an audio-folder split) contributes its listing: every file's relative path, size
  and modification time, so adding, removing or rewriting a clip changes the fingerprint
  without reading all the audio.
  """
  h = hashlib.sha1()
  for p in paths:
    h.update(os.path.basename(p).encode())
    if os.path.isdir(p):
      for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        for name in sorted(files):
          st = os.stat(os.path.join(root, name))
          h.update(f"{os.path.relpath(os.path.join(root, name), p)}:{st.st_size}:"
                   f"{st.st_mtime_ns}".encode())
    elif os.path.exists(p):
      with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
          h.update(chunk)
  h.update(json.dumps(extra, sort_keys=True, default=str).encode())
  return h.hexdigest()[:16]


def read_annotation_labels(path: str, task: str) -> list[str]:
  """All label strings in one BEANS annotation file (csv `label` column or jsonl annotations),
  as written (a labels.LabelSet makes them classes)."""
  found = []
  if task == "classification":
    found = [r["label"] for r in annotations.read_rows(path, ("path", "label"))]
  else:
    with open(path, encoding="utf-8-sig") as f:
      for n, line in enumerate(f, 1):
        if line.strip():
          try:
            rec = json.loads(line)
            found += [str(a["label"]) for a in rec.get("annotations", [])]
          except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}:{n}: not a BEANS detection record "
                             f'{{"path","length","annotations":[{{"st","ed","label"}}]}} ({e})')
  return found


def _visible(name: str) -> bool:
  return not name.startswith(("_", "."))


def is_audio(name: str) -> bool:
  return _visible(name) and name.lower().endswith(AUDIO_EXTENSIONS)


def list_split(split_path: str) -> list[tuple[str, str]]:
  """(audio path, raw label) pairs of one audio-folder split, in a fixed order.

  A folder: its sub-folders are the labels (searched recursively; names starting with `_` or `.`
  are ignored). A csv: columns `path,label` (`,` or `;`, with or without a byte-order mark).
  """
  if os.path.isdir(split_path):
    pairs = []
    for label in sorted(filter(_visible, os.listdir(split_path))):
      label_dir = os.path.join(split_path, label)
      if not os.path.isdir(label_dir):
        continue
      for root, dirs, files in os.walk(label_dir):
        dirs[:] = sorted(filter(_visible, dirs))
        pairs += [(os.path.join(root, f), label) for f in sorted(files) if is_audio(f)]
    if not pairs:
      raise ValueError(f"{split_path}: no audio files in label sub-folders (expected "
                       f"{split_path}/<label>/*.wav, formats {', '.join(AUDIO_EXTENSIONS)})")
    return pairs
  if os.path.isfile(split_path):
    return [(r["path"], r["label"]) for r in annotations.read_rows(split_path, ("path", "label"))]
  raise FileNotFoundError(f"{split_path}: split not found; create {split_path}/<label>/*.wav or "
                          f"a csv with columns path,label, or list the splits in dataset.json")


def discover_class_names(split_files: dict[str, str], found: labels_lib.LabelSet) -> list[str]:
  """Sorted class names over all existing audio-folder splits (labels collected in `found`)."""
  for p in split_files.values():
    if os.path.exists(p):
      for _, label in list_split(p):
        found.add(label)
  if not found.names:
    raise ValueError(f"no labelled audio in any of {sorted(split_files.values())}")
  return found.names


_DATASET_JSON_SCHEMA = (
    "Fix: it needs task (classification|detection), sample_rate, clip_seconds (detection: "
    "window_seconds and shift_seconds); optional: name, format (beans_classification|"
    "beans_detection|audio_folder), splits ({split: file or folder}), class_names, "
    "unknown_label (README, 'Own data'). Or delete it and let the layout be inferred")


def _from_dataset_json(name: str, folder: str, labels: str) -> DatasetSource:
  path = os.path.join(folder, DATASET_JSON)
  try:
    with open(path) as f:
      meta = json.load(f)
    fmt = meta.get("format") or (
        "beans_detection" if meta["task"] == "detection" else "beans_classification")
    if fmt not in FORMATS:
      raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    task = meta["task"]
    split_files = meta.get("splits") or (
        {s: s for s in SPLITS} if fmt == "audio_folder" else
        (_DET_FILES if task == "detection" else _CLS_FILES))
    split_files = {s: os.path.join(folder, p) for s, p in split_files.items()}
  except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as e:
    raise ValueError(f"{path}: invalid dataset description ({e!r}). {_DATASET_JSON_SCHEMA}") from e
  if not any(os.path.exists(p) for p in split_files.values()):
    raise FileNotFoundError(
        f"{path}: none of its splits exist ({', '.join(sorted(split_files.values()))}); "
        f"format {fmt!r} reads " + ("<split>/<label>/*.wav folders or path,label csvs"
                                    if fmt == "audio_folder" else "annotation files") +
        ". Fix: list the splits that exist under \"splits\" in dataset.json, or delete "
        "dataset.json and let the layout be inferred (README, 'Own data')")
  found = labels_lib.LabelSet(labels)
  try:
    class_names = meta.get("class_names")
    if not class_names and fmt == "audio_folder":
      class_names = discover_class_names(split_files, found)
    elif not class_names:  # BEANS-format files without a class list: the labels they use
      for lbl in (x for p in split_files.values() if os.path.isfile(p)
                  for x in read_annotation_labels(p, task)):
        found.add(lbl)
      class_names = found.names
  except annotations.TableError:
    raise
  except ValueError as e:
    raise ValueError(f"{path}: could not read the class names from the splits ({e})") from e
  try:
    info = DatasetInfo(
        name=meta.get("name", name), task=task, sample_rate=int(meta["sample_rate"]),
        clip_seconds=float(meta.get("clip_seconds") or meta["window_seconds"]),
        shift_seconds=(float(meta["shift_seconds"]) if meta.get("shift_seconds") else None),
        class_names=tuple(labels_lib.canonical(c) for c in class_names))
  except (KeyError, TypeError, ValueError) as e:
    raise ValueError(f"{path}: invalid dataset description ({e!r}). {_DATASET_JSON_SCHEMA}") from e
  files = sorted(p for p in split_files.values() if os.path.exists(p))
  return DatasetSource(
      info=info, format=fmt, root=folder, split_files=split_files,
      search_dirs=(folder, os.path.dirname(folder), os.path.dirname(os.path.dirname(folder))),
      unknown_label=meta.get("unknown_label"), labels=labels,
      fingerprint=fingerprint_files([path] + files, extra=None if labels == "merge" else labels),
      warnings=tuple(found.merge_warnings(folder)))


CLASS_ORDERS = ("sorted", "beans")


def _from_beans_roster(name: str, data_root: str, class_order: str = "sorted",
                       labels: str = "merge") -> DatasetSource:
  spec = BEANS_ROSTER[name]
  folder = os.path.join(data_root, spec["folder"])
  split_files = {s: os.path.join(folder, p) for s, p in spec["files"].items()}
  missing = [p for p in split_files.values() if not os.path.isfile(p)]
  if missing:
    raise FileNotFoundError(
        f"BEANS dataset {name!r}: missing {', '.join(missing)} (expected the BEANS layout "
        f"{data_root}/{spec['folder']}/...). {BEANS_HELP}")
  found = labels_lib.LabelSet(labels)  # read in every mode: merged spellings are warned
  for p in split_files.values():
    for label in read_annotation_labels(p, spec["task"]):
      found.add(label)
  if class_order == "beans":
    # BEANS' own list and order (beans_classes.py): the index of a class is its position there.
    class_names = beans_classes.BEANS_CLASSES[name]
  elif "labels" in spec:
    class_names = tuple(spec["labels"])
  else:
    class_names = tuple(found.names)
    if len(class_names) != spec["classes"]:
      _log.warning("BEANS %s: the annotation files have %d classes, the roster says %d",
                   name, len(class_names), spec["classes"])
  info = DatasetInfo(name=name, task=spec["task"], sample_rate=spec["sample_rate"],
                     clip_seconds=float(spec["clip"]),
                     shift_seconds=float(spec["shift"]) if "shift" in spec else None,
                     class_names=class_names)
  fmt = "beans_detection" if spec["task"] == "detection" else "beans_classification"
  # BEANS writes paths relative to the BEANS checkout (`data/<ds>/wav/...`): try the parent of
  # data_root too.
  return DatasetSource(
      info=info, format=fmt, root=folder, split_files=split_files,
      search_dirs=(folder, data_root, os.path.dirname(os.path.abspath(data_root))),
      unknown_label=spec.get("unknown"), labels=labels,
      warnings=tuple(found.merge_warnings(folder)),
      fingerprint=fingerprint_files(sorted(split_files.values()), extra=(
          name if (class_order, labels) == ("sorted", "merge") else [name, class_order, labels])))


def resolve(dataset: str, data_root: str, class_order: str = "sorted",
            labels: str = "merge") -> DatasetSource:
  """Finds `dataset` under `data_root`: a folder with dataset.json, else a BEANS roster entry.

  `class_order` (BEANS roster entries only; a dataset.json lists its own classes): "sorted" reads
  the class names from the annotation files and sorts them as strings; "beans" takes BEANS'
  fixed list in BEANS' order (beans_classes.py, the paper mode). `labels`: the rule of labels.py.

  Raises:
    FileNotFoundError: nothing usable there; the message lists known names and how to get data.
  """
  data_root = os.path.abspath(os.path.expanduser(data_root))
  folder = os.path.join(data_root, dataset)
  if os.path.isfile(os.path.join(folder, DATASET_JSON)):
    return _from_dataset_json(dataset, folder, labels)
  if class_order not in CLASS_ORDERS:
    raise ValueError(f"data.class_order must be one of {CLASS_ORDERS}, got {class_order!r}")
  if dataset in BEANS_ROSTER:
    return _from_beans_roster(dataset, data_root, class_order, labels)
  missing = "" if os.path.exists(folder) else f"{folder} does not exist; "
  raise FileNotFoundError(
      f"Unknown dataset {dataset!r} under {data_root}: {missing}no {folder}/{DATASET_JSON} and "
      f"not a BEANS name ({', '.join(BEANS_ROSTER)}). {whats_there(data_root, [dataset])} "
      f"Own recordings (a folder of label sub-folders, a csv, ...): pass that folder or csv "
      f"itself (README, 'Own data'). {BEANS_HELP}")


def whats_there(data_root: str, names: list[str]) -> str:
  """What is under `data_root` (BEANS datasets by name, other entries as they are) and, for each
  of `names` that is not there, the nearest name (difflib): for errors about missing datasets."""
  if not os.path.isdir(data_root):
    parent = os.path.dirname(os.path.abspath(data_root.rstrip(os.sep)))
    while parent and not os.path.isdir(parent):
      parent = os.path.dirname(parent)
    return f"{data_root} does not exist (nearest existing folder: {parent})."
  entries = sorted(e for e in os.listdir(data_root) if _visible(e))
  beans = [n for n, spec in BEANS_ROSTER.items() if spec["folder"] in entries]
  others = [e for e in entries if e not in {BEANS_ROSTER[n]["folder"] for n in beans}]
  listed = ", ".join(beans + others[:20]) + (f" and {len(others) - 20} more"
                                             if len(others) > 20 else "")
  near = {n: difflib.get_close_matches(n, list(BEANS_ROSTER) + entries, n=1, cutoff=0.6)
          for n in names}
  guesses = "; ".join(f"{g[0]!r} for {n!r}" for n, g in near.items() if g)
  return (f"Found under {data_root}: {listed or 'nothing'}."
          + (f" Did you mean {guesses}?" if guesses else ""))


def dataset_info(dataset: str, data_root: str) -> DatasetInfo:
  """Shortcut: the `DatasetInfo` of `dataset` under `data_root`."""
  return resolve(dataset, data_root).info
