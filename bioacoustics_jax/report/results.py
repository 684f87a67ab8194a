"""results.csv: the results store, one row per cell x evaluation setting x reducer x clusterer.

Each row names the cell key (a content hash of everything that made its embeddings, cell.py),
the evaluation key (a hash of every evaluator setting) and the run that wrote it
(runs/<run id>/run.json), plus the settings themselves as columns, so rows computed with
different settings coexist and each says what it is. Appending is idempotent: a row whose key
(KEY_COLUMNS) is already in the file replaces the old row, so re-running a finished or
half-finished cell after a crash never duplicates it. Writers take an exclusive lock
(fcntl) on `<results.csv>.lock` around the read-modify-write, so concurrent processes lose no
rows, and each write goes to a temporary file renamed over the old one, so a killed run leaves
either the old or the new file, never a torn one. The file may live at a URI (gs://, through
bioacoustics_jax/paths.py); there is no file lock on a URI, so one writer per results.csv there
(a multi-host run has one: process 0).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import math
import os
from typing import Any, Iterable

from bioacoustics_jax import paths

# The evaluator settings every row records (the keys of config.evaluate that change a score).
SETTING_COLUMNS = ("embed_batch_size", "umap_n_neighbors", "umap_min_dist", "pca_dim",
                   "tsne_perplexity", "hdbscan_min_cluster_size", "eval_seed")
# How the cell's embeddings were computed and how fast (from the embedding set's meta, written
# when it was computed; NaN / "" where a cell has none, e.g. training speed of a frozen cell):
# extraction examples/s with compile excluded and the compile seconds apart (embed/extract.py),
# training examples/s and seconds per epoch (train/timing.py train_speed), the cell's wall
# seconds (training + extraction), the device and the compute dtypes.
SPEED_COLUMNS = ("framework", "device_kind", "device_count", "dtype", "train_dtype",
                 "extract_examples_per_s", "extract_compile_s", "train_examples_per_s",
                 "train_epoch_s", "wall_s")
# Seed robustness (evaluate.seeds, default 5): the scores are means over that many reducer +
# clusterer seeds, with their standard deviations (NaN for one seed) and every seed's value
# (space-separated, in seed order).
SEED_COLUMNS = ("n_seeds", "ari_sd", "nmi_sd", "ari_by_seed", "nmi_by_seed")
# 95 % intervals of NMI and ARI (NaN when evaluate.interval_draws < 2). Method: half-sampling
# (evaluate/half_samples.py): reduce + cluster re-run on class-stratified halves of the clips
# drawn without replacement, each with its own seed; estimate +- t x SE with SE^2 = the halves'
# variance x m / (n - m). The interval always contains its estimate; its coverage of the
# expected score at this set size is checked by simulation (tests/evaluate/test_half_samples.py).
INTERVAL_COLUMNS = ("ari_lo", "ari_hi", "nmi_lo", "nmi_hi")
# The halves' scores (space-separated, one seed each) and a hash of the clips (ids + labels):
# rows with equal clips_key and eval_key are compared pairwise (evaluate/paired.py).
PAIRING_COLUMNS = ("ari_halves", "nmi_halves", "clips_key")
RESULT_COLUMNS = ("dataset", "model", "regime", "split", "background", "reducer", "clusterer",
                  "ari", "nmi", "ami", "silhouette", "accuracy", "n", "n_classes", "n_clusters",
                  "embedding_dim", "seconds", "skipped_files", "status", "note",
                  *SETTING_COLUMNS, *SEED_COLUMNS, *INTERVAL_COLUMNS, *PAIRING_COLUMNS,
                  *SPEED_COLUMNS, "cell_key", "eval_key", "run_id")
# Columns added after files were written: a file without them reads with these values, and a
# writer that does not know them gets them ("background": "fewer" = the paper's fewer-background
# experiment, detection windows without any label dropped from every split).
ADDED_COLUMNS = {"background": "all", "ari_by_seed": "", "nmi_by_seed": "",
                 **{c: math.nan for c in INTERVAL_COLUMNS}, **{c: "" for c in PAIRING_COLUMNS}}
KEY_COLUMNS = ("dataset", "model", "regime", "split", "reducer", "clusterer", "cell_key",
               "eval_key")
FLOAT_COLUMNS = ("ari", "nmi", "ami", "silhouette", "accuracy", "seconds", "umap_min_dist",
                 "tsne_perplexity", "ari_sd", "nmi_sd", *INTERVAL_COLUMNS,
                 "extract_examples_per_s", "extract_compile_s", "train_examples_per_s", "train_epoch_s", "wall_s")
INT_COLUMNS = ("n", "n_classes", "n_clusters", "embedding_dim", "skipped_files",
               "embed_batch_size", "umap_n_neighbors", "pca_dim", "hdbscan_min_cluster_size",
               "eval_seed", "n_seeds", "device_count")


# Columns a writer may leave out: they mean "not measured" (NaN, 0 or "") when absent.
OPTIONAL_COLUMNS = SEED_COLUMNS + INTERVAL_COLUMNS + PAIRING_COLUMNS + SPEED_COLUMNS


def _absent(column: str) -> Any:
  return math.nan if column in FLOAT_COLUMNS else 0 if column in INT_COLUMNS else ""


def speed_columns(meta: dict[str, Any]) -> dict[str, Any]:
  """SPEED_COLUMNS from an embedding set's meta (NaN / 0 / "" for what it does not hold)."""
  return {c: meta.get(c, _absent(c)) for c in SPEED_COLUMNS}


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
  return tuple(str(row[c]) for c in KEY_COLUMNS)


def _format(value: Any) -> str:
  if isinstance(value, float):
    return "nan" if math.isnan(value) else repr(value)  # repr: round-trips exactly
  return str(value)


def _parse(column: str, text: str) -> Any:
  if column in FLOAT_COLUMNS:
    return float(text) if text not in ("", "nan") else math.nan
  if column in INT_COLUMNS:
    return int(float(text)) if text else 0
  return text


def read_results(path: str) -> list[dict[str, Any]]:
  """Rows of results.csv with numbers parsed (NaN for missing scores); [] if it does not exist."""
  if not paths.exists(path):
    return []
  with paths.open_text(path) as f:
    reader = csv.DictReader(f)
    header = tuple(reader.fieldnames or ())
    added = {c: v for c, v in ADDED_COLUMNS.items() if c not in header}
    if header != tuple(c for c in RESULT_COLUMNS if c not in added):
      raise ValueError(f"{path} has columns {list(header)}, expected {list(RESULT_COLUMNS)}. It "
                       "was written by another version; move it aside and re-run (finished "
                       "embeddings are reloaded, not recomputed).")
    return [{c: _parse(c, row[c]) if c in row else added[c] for c in RESULT_COLUMNS}
            for row in reader]


@contextlib.contextmanager
def locked(path: str):
  """An exclusive lock on `<path>.lock` for the duration of the block (blocks until free); none
  for a URI (no file locks there: one writer per file, see the module doc)."""
  if paths.is_uri(path):
    yield
    return
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(f"{path}.lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def append_rows(path: str, rows: Iterable[dict[str, Any]]) -> str:
  """Adds `rows` to the csv at `path`, replacing existing rows with the same key (a row may
  leave out ADDED_COLUMNS: their defaults, and OPTIONAL_COLUMNS: not measured)."""
  rows = [{**{c: v for c, v in ADDED_COLUMNS.items() if c not in r},
           **{c: _absent(c) for c in OPTIONAL_COLUMNS if c not in r}, **r} for r in rows]
  return _append(path, rows, RESULT_COLUMNS, KEY_COLUMNS, read_results)


# probes.csv: the evaluator's probe rows (linear probe, kNN, few-shot; evaluate/probe_evaluator.py
# PROBE_ROW_KEYS) with the same identity columns as results.csv.
PROBE_COLUMNS = ("dataset", "model", "regime", "split", "task", "setting", "metric", "value",
                 "lo", "hi", "n_train", "n_test", "n_classes", "embedding_dim", "seconds",
                 "skipped", "cell_key", "eval_key", "run_id")
PROBE_KEY_COLUMNS = ("dataset", "model", "regime", "split", "task", "setting", "metric",
                     "cell_key", "eval_key")


def _read_probe_text(path: str) -> list[dict[str, Any]]:
  if not paths.exists(path):
    return []
  with paths.open_text(path) as f:
    return list(csv.DictReader(f))


def append_probe_rows(path: str, rows: Iterable[dict[str, Any]]) -> str:
  """Adds probe rows to probes.csv (same replacement and locking rules as results.csv)."""
  return _append(path, rows, PROBE_COLUMNS, PROBE_KEY_COLUMNS, _read_probe_text)


def _append(path: str, rows: Iterable[dict[str, Any]], columns: tuple[str, ...],
            key_columns: tuple[str, ...], read) -> str:
  def key(row):
    return tuple(str(row[c]) for c in key_columns)
  new = []
  for r in rows:
    missing = [c for c in columns if c not in r]
    extra = [c for c in r if c not in columns]
    if missing or extra:
      raise ValueError(f"Row for {path} does not match its columns: missing {missing}, unknown "
                       f"{extra}. Rows need exactly {list(columns)}.")
    new.append({c: r[c] for c in columns})
  new_keys = {key(r) for r in new}
  if len(new_keys) != len(new):
    raise ValueError(f"Rows for {path} repeat a key {list(key_columns)}; each cell must be "
                     "reported once.")
  with locked(path):
    kept = [r for r in read(path) if key(r) not in new_keys]
    with paths.open_text(path, "w") as f:  # a temporary file renamed over `path`
      writer = csv.writer(f)
      writer.writerow(columns)
      for row in kept + new:
        writer.writerow([_format(row[c]) for c in columns])
  return path
