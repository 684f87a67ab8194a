"""The table a run prints at its end: one row per cell, its NMI per reducer+clusterer, its probe
scores and its time, read back from what the run wrote (results.csv, probes.csv, run.json).

    print(run_summary.table(workdir, run_id))

Only this run's rows (their `run_id`); a setting evaluated under several evaluator settings
(a grid of UMAP parameters) shows the first. The full numbers, with their intervals, are in
report.md and report.html.
"""

from __future__ import annotations

import csv
import json
import os

from bioacoustics_jax import paths
from bioacoustics_jax.results import store as results

_SHORT = {"kmeans": "km", "hdbscan": "hdb", "agglomerative": "agg", "gmm": "gmm"}
# Probe scores shown, as (task, metric, setting or "") -> column name.
_PROBES = {("linear_probe", "accuracy", ""): "probe acc",
           ("knn", "precision_at_k", "k=1"): "kNN P@1"}


def table(workdir: str, run_id: str) -> str:
  """The end-of-run table (module doc); "" when the run wrote no rows."""
  csv_path = os.path.join(workdir, "results.csv")
  rows = [r for r in results.read_results(csv_path) if r.get("run_id") == run_id]
  if not rows:
    return ""
  cells: dict[tuple, dict[str, str]] = {}
  settings: list[str] = []
  for r in rows:
    cell = cells.setdefault((r["dataset"], r["model"], r["regime"]), {})
    setting = f"{r['reducer']}+{_SHORT.get(r['clusterer'], r['clusterer'])}"
    if setting not in settings:
      settings.append(setting)
    cell.setdefault(setting, _number(r["nmi"]))
  probe_columns = _probe_scores(workdir, run_id, cells)
  seconds = _seconds(workdir, run_id)
  header = ["dataset", "model", "regime", *[f"NMI {s}" if i == 0 else s
                                               for i, s in enumerate(settings)],
            *probe_columns, "time"]
  body = []
  for key, scores in cells.items():
    time = seconds.get(key)
    body.append([*key, *[scores.get(s, "-") for s in settings],
                 *[scores.get(c, "-") for c in probe_columns],
                 "-" if time is None else f"{time:.0f} s"])
  widths = [max(len(str(x)) for x in column) for column in zip(header, *body)]
  return "\n".join("  ".join(str(x).ljust(w) if i < 3 else str(x).rjust(w)
                             for i, (x, w) in enumerate(zip(line, widths))).rstrip()
                   for line in [header, *body])


def _number(value) -> str:
  try:
    return f"{float(value):.3f}"
  except (TypeError, ValueError):
    return "-"


def _probe_scores(workdir: str, run_id: str, cells: dict[tuple, dict[str, str]]) -> list[str]:
  """Adds this run's probe scores to `cells`; returns the columns found."""
  probes_csv = os.path.join(workdir, "probes.csv")
  if not paths.exists(probes_csv):
    return []
  found = []
  with paths.open_text(probes_csv) as f:
    probe_rows = list(csv.DictReader(f))
  for r in probe_rows:
    column = _PROBES.get((r["task"], r["metric"], r.get("setting") or ""))
    key = (r["dataset"], r["model"], r["regime"])
    if column is None or r.get("run_id") != run_id or key not in cells:
      continue
    cells[key].setdefault(column, _number(r["value"]))
    if column not in found:
      found.append(column)
  return [c for c in _PROBES.values() if c in found]


def _seconds(workdir: str, run_id: str) -> dict[tuple, float]:
  """Each cell's wall time from run.json."""
  record = paths.join(workdir, "runs", run_id, "run.json")
  if not paths.exists(record):
    return {}
  cells = json.loads(paths.read_text(record)).get("cells", [])
  return {(c["dataset"], c["model"], c["regime"]): c["seconds"] for c in cells
          if c.get("seconds") is not None}
