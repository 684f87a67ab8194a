"""report.html sections that come from a run's other records, beside the clustering scores:
the learning rate each fine-tuned cell chose and its best epoch (runs/<id>/run.json, through
report/run_records.py), and the linear-probe / kNN / few-shot scores (probes.csv, through
report/probe_rows.py). document.py puts them on the page; both are `table.sortable`.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any, Sequence

from bioacoustics_jax.report import probe_rows
from bioacoustics_jax.report import run_records

_esc = html.escape


def _table(table_id: str, header: Sequence[str], body: list[list[tuple[str, str | None]]],
           text_columns: int) -> str:
  """A sortable table; each cell is (text, numeric sort key or None for text)."""
  heads = "".join(f'<th class="t">{_esc(h)}</th>' if i < text_columns else f"<th>{_esc(h)}</th>"
                  for i, h in enumerate(header))
  rows = "\n".join("<tr>" + "".join(
      f'<td class="t">{_esc(text)}</td>' if key is None else
      f'<td data-v="{key}">{_esc(text)}</td>' for text, key in row) + "</tr>" for row in body)
  return (f'<table class="sortable" id="{_esc(table_id)}"><thead><tr>{heads}</tr></thead>\n'
          f"<tbody>{rows}</tbody></table>")


def _key(text: str) -> str:
  try:
    return repr(float(text))
  except ValueError:
    return "-Infinity"  # "?" sorts lowest


def training(trials: list[tuple[str, str]]) -> str:
  """The chosen learning rate and best epoch of every fine-tuned cell, per trial's latest run."""
  title = '<h2 id="training">Fine-tuning: chosen learning rate and best epoch</h2>'
  header = (["trial"] if any(t for t, _ in trials) else []) + list(run_records.TRAINING_COLUMNS)
  body = []
  for trial, trial_dir in trials:
    for c in run_records.training_choices(run_records.find_run(trial_dir) or {}):
      texts = [c["dataset"], c["model"], c["regime"], c["split"], c["tried"]]
      numbers = [c["chosen"], c["best_epoch"], c["best_metric"]]
      body.append(([(trial, None)] if header[0] == "trial" else [])
                  + [(t, None) for t in texts] + [(n, _key(n)) for n in numbers])
  if not body:
    return title + '<p class="note">No fine-tuned cell in this run.</p>'
  note = ('<p class="note">Each fine-tuned cell trains once per learning rate; the one whose '
          "best validation score (train.select_metric) is highest is kept, at its best epoch "
          "(from runs/&lt;run id&gt;/run.json; the curves below show every rate).</p>")
  return title + note + _table("training-table", header, body, len(header) - 3)


def _value(row: dict[str, Any]) -> tuple[str, str]:
  if row.get("skipped"):
    return "skipped", "-Infinity"
  value, low, high = row["value"], row["lo"], row["hi"]
  if math.isnan(value):
    return "n/a", "-Infinity"
  half = (high - low) / 2 if not (math.isnan(low) or math.isnan(high)) else math.nan
  return (f"{value:.3f}" + ("" if math.isnan(half) else f" ± {half:.3f}")), repr(value)


def probes(trials: list[tuple[str, str]]) -> str:
  """One table per dataset of probes.csv: rows model x regime x split, one column per
  task/setting/metric (value ± half the 95 % interval); a cell re-run later replaces its row."""
  title = '<h2 id="probes">Linear probe, kNN retrieval and few-shot</h2>'
  rows: dict[tuple, dict[str, Any]] = {}
  for trial, trial_dir in trials:
    for r in probe_rows.read_probe_rows(os.path.join(trial_dir, "probes.csv")):
      rows[(trial, *(r[c] for c in probe_rows.PROBE_ID), r["task"], r["setting"],
            r["metric"])] = dict(r, trial=trial)
  if not rows:
    return title + '<p class="note">No probe rows (config.evaluate.probes is empty).</p>'
  parts = [title, '<p class="note">Linear probe: logistic regression on the train split\'s '
           "embeddings, scored on test; kNN: leave-one-out on the test split; few-shot: n train "
           "examples per class, mean over draws. ± is half the 95 % interval (from probes.csv)."
           "</p>"]
  with_trial = any(t for t, _ in trials)
  ids = ("trial",) * with_trial + probe_rows.PROBE_ID[1:]
  for dataset in dict.fromkeys(r["dataset"] for r in rows.values()):
    mine = [r for r in rows.values() if r["dataset"] == dataset]
    columns = list(dict.fromkeys((r["task"], r["setting"], r["metric"]) for r in mine))
    lines = list(dict.fromkeys(tuple(r[c] for c in ids) for r in mine))
    cells = {(tuple(r[c] for c in ids), (r["task"], r["setting"], r["metric"])): r
             for r in mine}
    body = []
    for line in lines:
      named = [(f"{v} ({probe_rows.HANDCRAFTED[v]})" if c == "model"
                and v in probe_rows.HANDCRAFTED else v, None) for c, v in zip(ids, line)]
      body.append(named + [_value(cells[(line, col)]) if (line, col) in cells
                           else ("", "-Infinity") for col in columns])
    header = list(ids) + [probe_rows.probe_label(*c) for c in columns]
    parts.append(f"<h3>{_esc(dataset)}</h3>"
                 + _table(f"probes-{dataset}", header, body, len(ids)))
  return "\n".join(parts)
