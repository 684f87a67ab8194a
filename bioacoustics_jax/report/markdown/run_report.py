"""report.md of one run, from what the run left in its workdir: the run's own rows of results.csv
and probes.csv, and its runs/<run id>/run.json (failed cells, each cell's data checks and, for a
fine-tuned cell, the learning rate chosen on the validation split and its best epoch).

    run_report.write_run_report(workdir, run_id)   # experiment.py, at the end of a run
    run_report.write_run_report(workdir)           # the rebuild: the workdir's latest run

Both calls read the same files, so a rebuilt report.md equals the one the run wrote.
"""

from __future__ import annotations

import os
from typing import Any

from bioacoustics_jax import paths
from bioacoustics_jax.data import summary as data_summary
from bioacoustics_jax.report import run_records
from bioacoustics_jax.report import tables
from bioacoustics_jax.report.markdown import document


def training_section(record: dict[str, Any]) -> list[str]:
  """report.md lines: the chosen learning rate and best epoch of every fine-tuned cell."""
  choices = run_records.training_choices(record)
  if not choices:
    return []
  lines = ["## Fine-tuning: chosen learning rate and best epoch", "",
           "Each fine-tuned cell trains once per learning rate; the one whose best validation "
           "score (train.select_metric) is highest is kept, at its best epoch.", ""]
  lines += tables.markdown_table(run_records.TRAINING_COLUMNS, [
      [c["dataset"], c["model"], c["regime"], c["split"], c["tried"], c["chosen"],
       c["best_epoch"], c["best_metric"]] for c in choices])
  return lines + [""]


def write_run_report(workdir: str, run_id: str | None = None,
                     paper_csv: str | None = None) -> str:
  """Writes `<workdir>/report.md` for `run_id` (default: the latest run with a run.json; the
  whole results.csv when there is none) and returns its path."""
  workdir = paths.absolute(workdir)
  record = run_records.find_run(workdir, run_id) or {}
  cells = record.get("cells", [])
  failures = [dict(dataset=c["dataset"], model=c["model"], regime=c["regime"],
                   error=c.get("error", "")) for c in cells if c.get("status") == "failed"]
  metas = [c["meta"] for c in cells if c.get("status") == "ok" and c.get("meta")]
  appendix = training_section(record) + data_summary.markdown_section(metas)
  return document.write_report(
      os.path.join(workdir, "results.csv"), os.path.join(workdir, "report.md"),
      paper_csv=paper_csv, run_id=record.get("run_id", run_id), failures=failures,
      probes_csv=os.path.join(workdir, "probes.csv"), appendix=appendix)
