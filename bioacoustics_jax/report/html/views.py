"""Per-cell views for report.html: 2-D projections, predicted clusters, labels, clip ids, intervals.

experiment.py (one call per cell, after evaluation)
  -> `<workdir>/views/<dataset>/<model>/<regime>.npz`
  -> report/html/document.py, which can then be rebuilt offline from the workdir alone.

The evaluator returns its first seed's projections and clusters (`predictions`, in the set's row
order); they are kept only when they reproduce that seed's NMI and ARI (`nmi_by_seed`), so the
page never shows clusters other than the scored ones. An evaluation without `predictions`
(older callers) has each clusterer re-run on each 2-D projection; the "none" reducer is not
re-run. The intervals are the rows' own (`nmi_lo`/`nmi_hi`, half-sampling:
evaluate/half_samples.py), so each contains its row's score.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import numpy as np
from absl import logging
from sklearn import metrics as skm

from bioacoustics_jax import paths
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import cluster as cluster_lib

VIEWS_DIR = "views"
# Scores re-computed from re-run clusters must equal the row's to this tolerance (float noise).
_SAME_SCORE = 1e-9


@dataclasses.dataclass
class CellView:
  """What report.html draws for one (dataset, model, regime) cell."""

  dataset: str
  model: str
  regime: str
  split: str
  labels: np.ndarray                            # [N] int
  ids: list[str]                                # [N] clip ids (path, or path@start for windows)
  label_names: list[str]
  projections: dict[str, np.ndarray]            # reducer -> [N, 2]
  predicted: dict[tuple[str, str], np.ndarray]  # (reducer, clusterer) -> [N] cluster ids
  intervals: dict[str, dict[str, list[float]]]  # "umap+kmeans" -> {"nmi": [lo, hi], "ari": ...}
  skipped: list[Any]


def cell_path(workdir: str, dataset: str, model: str, regime: str) -> str:
  return os.path.join(workdir, VIEWS_DIR, dataset, model.replace(":", "-"), f"{regime}.npz")


def save_cell(workdir: str, es: EmbeddingSet, evaluation, evaluator, rows: list[dict]) -> str:
  """Writes the cell's view (rows: its results rows, which name dataset, model, regime, split)."""
  first = rows[0]
  given = getattr(evaluation, "predictions", None) or {}
  projections = {r: np.asarray(p, np.float32) for r, p in evaluation.projections.items()}
  predicted, boxes = {}, {}
  for row in rows:
    key = (row["reducer"], row["clusterer"])
    boxes["+".join(key)] = {m: [float(row.get(f"{m}_lo", math.nan)),
                                float(row.get(f"{m}_hi", math.nan))] for m in ("nmi", "ari")}
    if row["reducer"] not in projections:
      continue  # "none": nothing to draw
    if key in given:
      labels_hat = np.asarray(given[key])
    else:
      labels_hat = cluster_lib.cluster(row["clusterer"], projections[row["reducer"]],
                                       es.n_classes, evaluator.cluster_settings)
    point = {"nmi": skm.normalized_mutual_info_score(es.labels, labels_hat),
             "ari": skm.adjusted_rand_score(es.labels, labels_hat)}
    scored = {m: _first_seed(row, m) for m in ("nmi", "ari")}
    if not all(math.isclose(point[m], scored[m], abs_tol=_SAME_SCORE) for m in ("nmi", "ari")):
      logging.warning("%s/%s/%s %s+%s: re-run clusters score NMI %.6f (row %.6f); not shown.",
                      first["dataset"], first["model"], first["regime"], *key, point["nmi"],
                      scored["nmi"])
      continue
    predicted[key] = labels_hat
  path = cell_path(workdir, first["dataset"], first["model"], first["regime"])
  header = dict(dataset=first["dataset"], model=first["model"], regime=first["regime"],
                split=first["split"], label_names=list(es.label_names), intervals=boxes,
                skipped=list(es.meta.get("skipped", [])), projections=sorted(projections),
                predicted=["+".join(k) for k in predicted])
  arrays = {f"projection__{r}": p for r, p in projections.items()}
  arrays.update({f"predicted__{'+'.join(k)}": v for k, v in predicted.items()})
  # Local or a URI; a killed run leaves the old view or the new one, never half of one.
  return paths.save_npz(path, labels=es.labels, ids=np.asarray(es.ids, dtype=str),
                        header=np.asarray(json.dumps(header, default=str)), **arrays)


def _first_seed(row: dict, metric: str) -> float:
  """The first seed's score (what `predictions` hold); the row's score for one seed."""
  values = str(row.get(f"{metric}_by_seed") or "").split()
  return float(values[0]) if values else float(row[metric])


def load_cell(path: str) -> CellView:
  with paths.load_npz(path) as f:
    header = json.loads(str(f["header"]))
    return CellView(
        dataset=header["dataset"], model=header["model"], regime=header["regime"],
        split=header["split"], labels=f["labels"], ids=[str(i) for i in f["ids"]],
        label_names=header["label_names"],
        projections={r: f[f"projection__{r}"] for r in header["projections"]},
        predicted={tuple(k.split("+", 1)): f[f"predicted__{k}"] for k in header["predicted"]},
        intervals=header["intervals"], skipped=header["skipped"])


def load_all(workdir: str) -> list[CellView]:
  """Every saved view under `workdir`, in a stable order (dataset, model, regime)."""
  found = paths.walk_files(os.path.join(workdir, VIEWS_DIR))
  return [load_cell(p) for p in found if p.endswith(".npz") and ".tmp" not in p]
