"""Probe rows shared by the documents: probes.csv read back, and a column's label.

probes.csv holds evaluate/probe_evaluator.py's PROBE_ROW_KEYS with the cell's identifying columns
(PROBE_ID); report.md (markdown/document.probe_section) and report.html
(html/run_sections.probes) show them.
"""

from __future__ import annotations

import csv
import math
from typing import Any

from bioacoustics_jax import paths

PROBE_ID = ("dataset", "model", "regime", "split")
_PROBE_FLOATS = ("value", "lo", "hi", "seconds")
_TASK_LABELS = {"linear_probe": "probe", "knn": "kNN", "fewshot": "few-shot"}
_METRIC_LABELS = {"accuracy": "acc", "macro_f1": "F1", "map": "mAP", "precision_at_k": "P",
                  "map_at_r": "mAP@R"}
HANDCRAFTED = {"mfcc": "handcrafted MFCC baseline"}


def read_probe_rows(path: str) -> list[dict[str, Any]]:
  """Rows of a probe results csv (values parsed to float, NaN when empty); [] if absent."""
  if not paths.exists(path):
    return []
  with paths.open_text(path) as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    for column in _PROBE_FLOATS:
      text = row.get(column, "")
      row[column] = float(text) if text not in ("", "nan", None) else math.nan
  return rows


def probe_label(task: str, setting: str, metric: str) -> str:
  """A column's short name: "probe acc", "kNN P@10", "5-shot acc"."""
  metric_label = _METRIC_LABELS.get(metric, metric)
  if metric == "precision_at_k" and setting.startswith("k="):
    return f"kNN P@{setting[2:]}"
  if metric == "map_at_r":
    return "kNN mAP@R"
  if task == "fewshot" and setting.startswith("n="):
    return f"{setting[2:]}-shot {metric_label}"
  return f"{_TASK_LABELS.get(task, task)} {metric_label}".strip()
