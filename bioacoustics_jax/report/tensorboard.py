"""TensorBoard for evaluation: each cell's scores as scalars plus its hyperparameters (HParams).

experiment.py calls `write_cell` once per cell, after its rows are in results.csv; the event
files go to `<workdir>/tensorboard/<dataset>/<model>/<regime>/`, beside the fine-tuning curves
that train/logbook.py writes under `<workdir>/train/...`. `tensorboard --logdir=WORKDIR` (a run,
or a sweep whose trials live in `runs/*/`) then lists every cell as a run: its scores under
`eval/<reducer>+<clusterer>/<metric>`, and in the HParams tab a table of cells x settings x scores.

The hyperparameters are the cell's identity (dataset, model, regime, split) plus every leaf of the
config, flattened to dotted keys (tuples as text): a sweep may vary any key, and the cell cannot
know which ones the sweep chose, so all of them are there to sort and filter by.
"""

from __future__ import annotations

import math
import os
from typing import Any

SCORES = ("ari", "nmi", "ami", "silhouette", "accuracy", "n_clusters")
TENSORBOARD_DIR = "tensorboard"


def cell_logdir(workdir: str, dataset: str, model: str, regime: str) -> str:
  return os.path.join(workdir, TENSORBOARD_DIR, dataset, model.replace(":", "-"), regime)


def flat_hparams(config: Any, prefix: str = "") -> dict[str, bool | int | float | str]:
  """Config leaves as {dotted.key: value}; HParams take only bool, number or string values."""
  items = config.items() if hasattr(config, "items") else ()
  out: dict[str, bool | int | float | str] = {}
  for key, value in items:
    path = f"{prefix}{key}"
    if hasattr(value, "items"):
      out.update(flat_hparams(value, path + "."))
    elif isinstance(value, (bool, int, float, str)):
      out[path] = value
    else:
      out[path] = str(value)
  return out


def write_cell(workdir: str, config: Any, rows: list[dict]) -> str:
  """Writes one event file of the cell's scores and HParams; returns its directory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (heavy; tf.data loaded it anyway)
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top

  first = rows[0]
  logdir = cell_logdir(workdir, first["dataset"], first["model"], first["regime"])
  hparams = {"dataset": first["dataset"], "model": first["model"], "regime": first["regime"],
             "split": first["split"], **flat_hparams(config)}
  # A trial id names the cell so a re-run (resume) overwrites the same HParams session.
  trial = "/".join(str(first[k]) for k in ("dataset", "model", "regime"))
  writer = tf.summary.create_file_writer(logdir)
  try:
    with writer.as_default(step=0):
      hp.hparams(hparams, trial_id=trial)
      for row in rows:
        for score in SCORES:
          value = float(row[score])
          if not math.isnan(value):  # NaN (undefined score) would draw as a broken point
            tf.summary.scalar(f"eval/{row['reducer']}+{row['clusterer']}/{score}", value)
  finally:
    writer.close()
  return logdir
