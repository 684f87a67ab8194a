"""The one row schema of results.csv and probes.csv: which columns, which are numbers, which
make a row's key, and who fills which (the evaluator, or the run that adds the cell's identity).

The evaluator (evaluate/) imports this module and nothing else of results/; the store
(store.py), the run, the reports and the sweep's aggregate read the same tuples, so a column is
added in one place. Each row names the cell key (a content hash of everything that made its
embeddings), the evaluation key (a hash of every evaluator setting) and the run that wrote it,
plus the settings themselves as columns, so rows made with different settings coexist.
"""

from __future__ import annotations

import math
from typing import Any

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
                 "extract_examples_per_s", "extract_compile_s", "train_examples_per_s",
                 "train_epoch_s", "wall_s")
INT_COLUMNS = ("n", "n_classes", "n_clusters", "embedding_dim", "skipped_files",
               "embed_batch_size", "umap_n_neighbors", "pca_dim", "hdbscan_min_cluster_size",
               "eval_seed", "n_seeds", "device_count")


# Columns a writer may leave out: they mean "not measured" (NaN, 0 or "") when absent.
OPTIONAL_COLUMNS = SEED_COLUMNS + INTERVAL_COLUMNS + PAIRING_COLUMNS + SPEED_COLUMNS


def absent(column: str) -> Any:
  """The value a column holds when it was not measured: NaN, 0 or ""."""
  return math.nan if column in FLOAT_COLUMNS else 0 if column in INT_COLUMNS else ""


def speed_columns(meta: dict[str, Any]) -> dict[str, Any]:
  """SPEED_COLUMNS from an embedding set's meta (NaN / 0 / "" for what it does not hold)."""
  return {c: meta.get(c, absent(c)) for c in SPEED_COLUMNS}


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
  return tuple(str(row[c]) for c in KEY_COLUMNS)


# probes.csv: the evaluator's probe rows (linear probe, kNN, few-shot; evaluate/probe_evaluator.py
# fills PROBE_EVALUATOR_COLUMNS) with the same identity columns as results.csv.
PROBE_COLUMNS = ("dataset", "model", "regime", "split", "task", "setting", "metric", "value",
                 "lo", "hi", "n_train", "n_test", "n_classes", "embedding_dim", "seconds",
                 "skipped", "cell_key", "eval_key", "run_id")
PROBE_KEY_COLUMNS = ("dataset", "model", "regime", "split", "task", "setting", "metric",
                     "cell_key", "eval_key")


# Who fills which column. The run fills a cell's identity, its skipped files, its batch size and
# speed, and the keys of the cell and the run; the evaluator (evaluate/evaluator.py ROW_KEYS,
# evaluate/probe_evaluator.py PROBE_ROW_KEYS) fills the rest, in this order.
CELL_COLUMNS = ("dataset", "model", "regime", "split", "background", "skipped_files",
                "embed_batch_size", *SPEED_COLUMNS, "cell_key", "run_id")
EVALUATOR_COLUMNS = tuple(c for c in RESULT_COLUMNS if c not in CELL_COLUMNS)
PROBE_EVALUATOR_COLUMNS = tuple(c for c in PROBE_COLUMNS if c not in CELL_COLUMNS + ("eval_key",))
