"""What a run's runs/<run id>/run.json tells a report (provenance.RunRecord writes it): which
run is the workdir's latest, its failed cells, and per fine-tuned cell the learning rate chosen on
the validation split and its best epoch (provenance.REPORTED_META). report.md
(markdown/run_report.py) and report.html (html/run_sections.py) both read it here.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from bioacoustics_jax import paths


def run_records(workdir: str) -> list[dict[str, Any]]:
  """The workdir's runs/*/run.json, oldest first (run ids sort by start time); unreadable ones
  are left out."""
  out = []
  for path in sorted(paths.glob(os.path.join(workdir, "runs", "*", "run.json"))):
    try:
      out.append(json.loads(paths.read_text(path)))
    except (OSError, ValueError):
      continue
  return out


def find_run(workdir: str, run_id: str | None = None) -> dict[str, Any] | None:
  """run.json of `run_id`, or of the latest run in the workdir (None when it has none)."""
  records = [r for r in run_records(workdir) if run_id is None or r.get("run_id") == run_id]
  return records[-1] if records else None


def _number(value: Any, spec: str) -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "?"
  return format(int(value) if spec == "d" else float(value), spec)


def training_choices(record: dict[str, Any]) -> list[dict[str, Any]]:
  """Per fine-tuned cell of the run: dataset, model, regime, split, the learning rates tried,
  the chosen one, its best epoch and its validation score there (formatted for a table)."""
  tried = (record.get("config") or {}).get("train", {}).get("learning_rates") or ()
  out = []
  for cell in record.get("cells", []):
    meta = cell.get("meta") or {}
    if cell.get("status") != "ok" or meta.get("learning_rate") is None:
      continue
    out.append(dict(dataset=cell["dataset"], model=cell["model"], regime=cell["regime"],
                    split=meta.get("split", "?"),
                    tried=", ".join(f"{float(lr):g}" for lr in tried) or "?",
                    chosen=_number(meta["learning_rate"], "g"),
                    best_epoch=_number(meta.get("best_epoch"), "d"),
                    best_metric=_number(meta.get("best_metric"), ".3f")))
  return out


TRAINING_COLUMNS = ("dataset", "model", "regime", "split", "learning rates tried",
                    "chosen learning rate", "best epoch", "validation score at best epoch")
