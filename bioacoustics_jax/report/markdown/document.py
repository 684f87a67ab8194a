"""report.md: results.csv as tables a person can read, optionally beside the paper's numbers.

Sections: one summary table per headline metric (NMI, ARI; rows dataset x model x regime x split,
one column per reducer+clusterer), then every metric per dataset, then (with `paper_csv`) our
fine-tuned UMAP + k-means scores next to the paper's for the UMAP setting each row ran, with
ours - paper, for runs whose dataset and model names are the paper's (real BEANS data; the
synthetic suite's names never match), then (with
`probes_csv`) one probe/kNN/few-shot table per dataset.

Clustering scores read "mean ± sd" over `evaluate.seeds` (report/seed_spread.py). In a summary
table the best of a column within a dataset is bold only when a paired test on the same clips
(evaluate/paired.py `winner` across settings: the same clips, halves and seeds) finds it
better than every other row of that column; otherwise nothing is bold. The all-metrics tables
bold nothing (their rows mix reducers and clusterers, and AMI, silhouette and accuracy have no
paired test). Probe cells read "value ± half the 95 % interval" and the best is bold only when
its interval lies wholly above every other cell's (probe rows carry no paired draws).
"""

from __future__ import annotations

import collections
import math
import os
from typing import Any, Iterable, Sequence

from bioacoustics_jax import paths
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report import probe_rows
from bioacoustics_jax.report import reference as reference_lib
from bioacoustics_jax.report import seed_spread
from bioacoustics_jax.report import tables
from bioacoustics_jax.report.markdown import framework_pairs
from bioacoustics_jax.results import store as results_lib

SUMMARY_METRICS = (("nmi", "NMI"), ("ari", "ARI"))
DETAIL_METRICS = (("ari", "ARI"), ("nmi", "NMI"), ("ami", "AMI"), ("silhouette", "Sil."),
                  ("accuracy", "Acc."))
PAPER_METRICS = (("ari", "ARI"), ("nmi", "NMI"), ("silhouette", "Sil"))
_ROW_ID = ("model", "regime", "split")


def _fmt(value: Any) -> str:
  if isinstance(value, float):
    return "n/a" if math.isnan(value) else f"{value:.3f}"
  return str(value)


_table = tables.markdown_table


def _finite(v: Any) -> bool:
  return isinstance(v, (int, float)) and not math.isnan(v)


def _bold_best(values: list[float | None],
               intervals: list[tuple[float, float] | None] | None = None,
               eligible: list[bool] | None = None) -> list[str]:
  """Formats a column, bolding its maximum (ties included); None means no such cell.

  With `intervals` ((lo, hi) per cell, all finite), cells read "v ± (hi - lo) / 2" and only a
  maximum whose lo exceeds every other cell's hi is bold. Cells not `eligible` (rows flagged
  small or degenerate) are marked "(small)" and never bold.
  """
  eligible = eligible or [True] * len(values)
  values = list(values)
  finite = [v for v, ok in zip(values, eligible) if ok and v is not None and not math.isnan(v)]
  best = max(finite) if finite else None
  cells = [(v, iv) for v, iv in zip(values, intervals or [None] * len(values))
           if v is not None and not math.isnan(v)]
  with_intervals = bool(intervals) and all(iv is not None and _finite(iv[0]) and _finite(iv[1])
                                           for _, iv in cells)
  out = []
  for k, v in enumerate(values):
    if v is None:
      out.append("")
      continue
    text = _fmt(v)
    if with_intervals and not math.isnan(v):
      lo, hi = intervals[k]
      text = f"{_fmt(v)} ± {(hi - lo) / 2:.3f}"
    if not eligible[k] and not math.isnan(v):
      out.append(text + " (small)")
      continue
    if best is None or math.isnan(v) or v != best or len(finite) < 2:
      out.append(text)
      continue
    if with_intervals:
      lo = intervals[k][0]
      beyond = all(lo > iv[1] for j, (w, iv) in enumerate(cells)
                   if not (w == v and iv == intervals[k]))
      out.append(f"**{text}**" if beyond else text)
    else:
      out.append(f"**{text}**")
  return out


def _paired_column(column: list[dict | None], metric: str) -> list[str]:
  """One summary column's cells (None: no such row): "mean ± sd" over seeds; bold only the row
  `paired.winner` finds detected better than every other scored row of the column; rows flagged
  small or degenerate are marked "(small)" and take part in no comparison."""
  best = paired.winner([r for r in column if _ok(r)], metric, across_settings=True)
  out = []
  for r in column:
    if r is None:
      out.append("")
      continue
    text = seed_spread.text(r, metric)
    if not _ok(r) and _finite(r[metric]):
      text += " (small)"
    out.append(f"**{text}**" if best is not None and r is best else text)
  return out


def _spread_column(rows: list[dict], metric: str) -> list[str]:
  """An all-metrics column: mean ± sd where the rows carry a seed spread, nothing bold."""
  out = []
  for r in rows:
    text = (seed_spread.text(r, metric) if f"{metric}_sd" in r and _finite(r[metric])
            else _fmt(r[metric]))
    out.append(text + (" (small)" if not _ok(r) and _finite(r[metric]) else ""))
  return out


def _ok(row: dict | None) -> bool:
  return row is not None and row.get("status", "ok") == "ok"


def _unique(items: Iterable[Any]) -> list[Any]:
  return list(dict.fromkeys(items))


def _summary_section(rows: list[dict], metric: str, label: str) -> list[str]:
  pairs = _unique((r["reducer"], r["clusterer"]) for r in rows)
  header = ["dataset", "model", "regime", "split"] + [f"{a}+{b}" for a, b in pairs]
  lines = [f"## {label}", ""]
  body = []
  for dataset in _unique(r["dataset"] for r in rows):
    in_dataset = [r for r in rows if r["dataset"] == dataset]
    cells = {(tuple(r[c] for c in _ROW_ID), (r["reducer"], r["clusterer"])): r
             for r in in_dataset}
    ids = _unique(tuple(r[c] for c in _ROW_ID) for r in in_dataset)
    columns = []
    for p in pairs:
      columns.append(_paired_column([cells.get((i, p)) for i in ids], metric))
    for k, row_id in enumerate(ids):
      body.append([dataset, *row_id] + [col[k] for col in columns])
  return lines + _table(header, body) + [""]


def _detail_section(rows: list[dict]) -> list[str]:
  lines = ["## All metrics", ""]
  header = (["model", "regime", "split", "reducer", "clusterer"] + [h for _, h in DETAIL_METRICS]
            + ["N", "classes", "clusters", "dim", "seconds", "skipped files", "status"])
  for dataset in _unique(r["dataset"] for r in rows):
    in_dataset = [r for r in rows if r["dataset"] == dataset]
    columns = [_spread_column(in_dataset, m) for m, _ in DETAIL_METRICS]
    body = []
    for k, r in enumerate(in_dataset):
      body.append([r[c] for c in _ROW_ID + ("reducer", "clusterer")] + [col[k] for col in columns]
                  + [str(r[c]) for c in ("n", "n_classes", "n_clusters", "embedding_dim")]
                  + [f"{r['seconds']:.1f}", str(r["skipped_files"]), r.get("status", "ok")])
    lines += [f"### {dataset}", ""] + _table(header, body) + [""]
  return lines


PAPER_SCORES = reference_lib.PAPER_SCORES  # the shipped reference csv


def _diff(ours: Any, paper: float) -> float:
  return ours - paper if _finite(ours) and _finite(paper) else math.nan


def _paper_section(rows: list[dict], paper_csv: str) -> list[str]:
  reference = reference_lib.read_reference(paper_csv)
  lines = ["## Compared with the paper", "",
           "Paper: fine-tuned embeddings, UMAP + k-means, from its saved notebooks, for the UMAP "
           "setting each row of ours ran (n_neighbors, min_dist). Ours: regime `finetuned`, "
           "reducer `umap`, clusterer `kmeans`. `n/a`: the paper has no number there.", ""]
  matched = reference_lib.paper_rows(rows, reference)
  if not matched:
    return lines + ["No run here matches the paper's datasets and models (real BEANS data, "
                    "fine-tuned, UMAP + k-means), so there is nothing to compare.", ""]
  header = ["dataset", "model", "split", "UMAP"] + [
      f"{h} {who}" for _, h in PAPER_METRICS for who in ("ours", "paper", "ours - paper")]
  body = []
  for r, paper in matched:
    cells = []
    for metric, _ in PAPER_METRICS:
      diff = _diff(r[metric], paper[metric])
      cells += [_fmt(r[metric]), _fmt(paper[metric]),
                "n/a" if math.isnan(diff) else f"{diff:+.3f}"]
    umap = reference_lib.umap_key(r)
    body.append([r["dataset"], r["model"], r["split"], f"({umap[0]}, {umap[1]:g})"] + cells)
  return lines + _table(header, body) + [""]


_SETTING_LABELS = (("umap_n_neighbors", "UMAP n_neighbors"), ("umap_min_dist", "UMAP min_dist"),
                   ("pca_dim", "PCA dim"), ("tsne_perplexity", "t-SNE perplexity"),
                   ("hdbscan_min_cluster_size", "HDBSCAN min cluster size"),
                   ("eval_seed", "seed"), ("embed_batch_size", "embedding batch"))


def _settings_line(rows: list[dict]) -> str:
  parts = []
  for key, label in _SETTING_LABELS:
    values = _unique(r[key] for r in rows if key in r)
    if values:
      parts.append(f"{label} {' / '.join(map(str, values))}")
  return "Settings: " + ", ".join(parts) + "." if parts else ""


def _notes_section(rows: list[dict], failures: Sequence[dict]) -> list[str]:
  lines = []
  if failures:
    lines += ["## Failed cells", "", "These cells stopped the run; the tables above hold the "
              "cells that finished.", ""]
    lines += _table(["dataset", "model", "regime", "error"],
                    [[f["dataset"], f["model"], f["regime"], f["error"]] for f in failures])
    lines.append("")
  noted = _unique((r["dataset"], r["model"], r["regime"], r.get("status", "ok"), r["note"])
                  for r in rows if r.get("note"))
  if noted:
    lines += ["## Notes on the evaluated sets", "",
              "Degenerate sets are not scored (n/a); small ones are scored but never bold.", ""]
    lines += _table(["dataset", "model", "regime", "status", "note"], [list(n) for n in noted])
    lines.append("")
  return lines


# Probe rows (evaluate/probe_evaluator.py PROBE_ROW_KEYS, with the cell's identifying columns).
PROBE_ID = probe_rows.PROBE_ID
HANDCRAFTED = probe_rows.HANDCRAFTED
read_probe_rows = probe_rows.read_probe_rows
_probe_label = probe_rows.probe_label


def probe_section(rows: list[dict[str, Any]]) -> list[str]:
  """One table per dataset: rows model x regime x split, one column per task/setting/metric.

  Cells are "value ± half the 95 % interval"; the best of a column is bold only beyond the
  intervals; skipped probes read "skipped" and their reasons are listed under the table. The
  handcrafted baseline's rows (model `mfcc`) are marked, so every table shows whether a deep
  embedding beats it.
  """
  if not rows:
    return []
  lines = ["## Linear probe, kNN retrieval and few-shot", "",
           "Linear probe: logistic regression on the train split's embeddings, scored on test; "
           "kNN: leave-one-out on the test split (P@k, mAP@R); few-shot: n train examples per "
           "class, mean over draws. ± is half the 95 % interval (bootstrap over test examples; "
           "over draws for few-shot); **bold** only where the best is better beyond the "
           "intervals.", ""]
  for dataset in _unique(r["dataset"] for r in rows):
    in_dataset = [r for r in rows if r["dataset"] == dataset]
    columns = _unique((r["task"], r["setting"], r["metric"]) for r in in_dataset)
    ids = _unique(tuple(r[c] for c in _ROW_ID) for r in in_dataset)
    cells = {(tuple(r[c] for c in _ROW_ID), (r["task"], r["setting"], r["metric"])): r
             for r in in_dataset}
    formatted, reasons = [], []
    for column in columns:
      column_rows = [cells.get((i, column)) for i in ids]
      values = [None if r is None or r.get("skipped") else r["value"] for r in column_rows]
      bounds = [None if r is None or r.get("skipped") else (r["lo"], r["hi"])
                for r in column_rows]
      texts = _bold_best(values, bounds)
      for k, r in enumerate(column_rows):
        if r is not None and r.get("skipped"):
          texts[k] = "skipped"
          reasons.append(f"{'/'.join(ids[k])} {_probe_label(*column)}: {r['skipped']}")
      formatted.append(texts)
    header = ["model", "regime", "split"] + [_probe_label(*c) for c in columns]
    body = []
    for k, row_id in enumerate(ids):
      model = row_id[0]
      name = f"{model} ({HANDCRAFTED[model]})" if model in HANDCRAFTED else model
      body.append([name, *row_id[1:]] + [col[k] for col in formatted])
    lines += [f"### {dataset}", ""] + _table(header, body) + [""]
    if reasons:
      lines += ["Skipped:"] + [f"- {reason}" for reason in _unique(reasons)] + [""]
  return lines


def write_report(results_csv: str, out_md: str, paper_csv: str | None = None,
                 run_id: str | None = None, failures: Sequence[dict] = (),
                 appendix: Sequence[str] = (), probes_csv: str | None = None) -> str:
  """Writes `out_md` from `results_csv` (and the paper's scores if `paper_csv`, the probe
  tables if `probes_csv`); returns it.

  With `run_id`, only that run's rows are reported (results.csv and probes.csv keep every run's
  rows, each naming its cell key, settings and run); `failures` are listed at the end, then the
  `appendix` lines (the experiment's data section: origins, input checks, skipped files).
  """
  rows = results_lib.read_results(results_csv) if paths.exists(results_csv) else []
  if run_id is not None:
    rows = [r for r in rows if r["run_id"] == run_id]
  if not rows and not failures:
    raise ValueError(f"{results_csv} has no results yet; run an experiment first.")
  counts = collections.Counter(r["dataset"] for r in rows)
  source = f"run `{run_id}` (runs/{run_id}/run.json) in `{results_csv}`" if run_id else \
      f"`{results_csv}` (runs: {', '.join(_unique(r['run_id'] for r in rows))})"
  lines = ["# Clustering results", "",
           f"From {source}: {len(rows)} rows over {len(counts)} dataset(s). Scores are "
           "higher-is-better, shown as mean ± sd over the evaluation seeds; silhouette is on the "
           "original embedding with the predicted clusters. **Bold** (summary tables): the best "
           "of its column within a dataset, only where a paired test on the same clips "
           f"({paired.METHOD}; evaluate/paired.py) finds it better than every other row of "
           "the column; nothing bold: no detectable difference (or rows that cannot be "
           "paired).", "",
           _settings_line(rows), ""]
  if rows:
    for metric, label in SUMMARY_METRICS:
      lines += _summary_section(rows, metric, label)
    lines += _detail_section(rows)
    lines += framework_pairs.pair_section(rows) + framework_pairs.speed_section(rows)
  if paper_csv and rows:
    lines += _paper_section(rows, paper_csv)
  if probes_csv:
    probes = read_probe_rows(probes_csv)
    if run_id is not None:
      probes = [r for r in probes if r.get("run_id") == run_id]
    lines += probe_section(probes)
  lines += _notes_section(rows, failures) + list(appendix)
  paths.write_text(out_md, "\n".join(lines))  # local or a URI
  return out_md
