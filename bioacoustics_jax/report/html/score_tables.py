"""The score tables of report.html: which model wins where, all scores, frozen vs fine-tuned, paper.

document.py puts them on the page. Rows are results.csv rows (plus the sweep trial's name,
"" for a run); intervals come from the cell views (views.py). Every table is
`table.sortable`: numbers carry their sort key in `data-v` (n/a as -Infinity) for the page's
script (report/html/page_assets.py).
"""

from __future__ import annotations

import html
import math
import os
from typing import Any, Iterable, Sequence

from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report import reference as reference_lib
from bioacoustics_jax.report import seed_spread

# The overview and the deltas show one reducer + clusterer: the paper's headline pair if present.
PREFERRED_PAIRS = (("umap", "kmeans"), ("tsne", "kmeans"), ("pca", "kmeans"))

_esc = html.escape

def _num(value: Any, digits: int = 3) -> tuple[str, str]:
  """(text, sort key) for a number; NaN shows n/a and sorts lowest."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "n/a", "-Infinity"
  if isinstance(value, float):
    return f"{value:.{digits}f}", repr(value)
  return str(value), str(value)


def _td(value: Any, digits: int = 3, css: str = "", extra: str = "") -> str:
  if isinstance(value, str):
    return f'<td class="t {css}">{_esc(value)}</td>'
  text, key = _num(value, digits)
  cls = f' class="{css}"' if css else ""
  return f'<td{cls} data-v="{key}">{text}{extra}</td>'


def _table(header: Sequence[str], body: Iterable[str], text_columns: int, table_id: str = ""
           ) -> str:
  heads = "".join(f'<th class="t">{_esc(h)}</th>' if i < text_columns else f"<th>{_esc(h)}</th>"
                  for i, h in enumerate(header))
  ident = f' id="{table_id}"' if table_id else ""
  rows = "\n".join(f"<tr>{r}</tr>" for r in body)
  return (f'<table class="sortable"{ident}><thead><tr>{heads}</tr></thead>\n<tbody>{rows}'
          "</tbody></table>")


def _ci(box: dict | None, metric: str) -> str:
  if not box or metric not in box:
    return ""
  low, high = box[metric]
  if not (math.isfinite(low) and math.isfinite(high)):
    return ""
  return f' <span class="ci">[{low:.3f}, {high:.3f}]</span>'


def _sd(row: dict, metric: str) -> str:
  """The seed spread after a score: "± sd" over evaluate.seeds, or "(1 seed)" without one."""
  if not math.isfinite(float(row[metric])):
    return ""
  return f' <span class="sd">{_esc(seed_spread.row_spread(row, metric))}</span>'


def _box(view, row: dict) -> dict:
  """The row's NMI / ARI intervals: its saved view's, else the row's own columns."""
  key = f"{row['reducer']}+{row['clusterer']}"
  if view and key in view.intervals:
    return view.intervals[key]
  return {m: [float(row.get(f"{m}_lo", math.nan)), float(row.get(f"{m}_hi", math.nan))]
          for m in ("nmi", "ari")}


def headline_pair(rows: list[dict]) -> tuple[str, str]:
  pairs = list(dict.fromkeys((r["reducer"], r["clusterer"]) for r in rows))
  return next((p for p in PREFERRED_PAIRS if p in pairs), pairs[0])




def overview(rows, views, pair) -> str:
  """Which model wins where: model x regime (x trial) rows, one NMI column per dataset."""
  chosen = [r for r in rows if (r["reducer"], r["clusterer"]) == pair]
  datasets = list(dict.fromkeys(r["dataset"] for r in chosen))
  sweep = any(r["trial"] for r in rows)
  ids = list(dict.fromkeys((r["trial"], r["model"], r["regime"]) for r in chosen))
  cell = {(r["trial"], r["model"], r["regime"], r["dataset"]): r for r in chosen}
  # Highlighted only where a paired test on the same clips finds the best better than all others;
  # a sweep's trials of other evaluator settings are paired on the halves they share.
  best = {d: paired.winner([cell[i + (d,)] for i in ids if i + (d,) in cell],
                           across_settings=True) for d in datasets}
  header = (["trial"] if sweep else []) + ["model", "regime"] + [
      f"{d} (N={_dataset_n(chosen, d)})" for d in datasets]
  body = []
  for trial, model, regime in ids:
    tds = ([_td(trial)] if sweep else []) + [_td(model), _td(regime)]
    for d in datasets:
      r = cell.get((trial, model, regime, d))
      if r is None:
        tds.append('<td data-v="-Infinity"></td>')
        continue
      box = _box(views.get((trial, d, model, regime)), r)
      tds.append(_td(r["nmi"], css="best" if r is best[d] else "",
                     extra=_sd(r, "nmi") + _ci(box, "nmi")))
    body.append("".join(tds))
  note = (f"NMI of {pair[0]} + {pair[1]} (the paper's headline protocol when present), mean ± "
          "sd over the evaluation seeds; the best "
          "of a dataset is highlighted only where a paired test on the same clips "
          "(evaluate/paired.py) finds it better than every other row; [low, high] = 95% "
          "interval by half-sampling (reduce + cluster re-run on halves of the clips, "
          "evaluate/half_samples.py). Click a header to sort.")
  return (f'<h2 id="overview">Which model wins where</h2><p class="note">{_esc(note)}</p>'
          + _table(header, body, len(header) - len(datasets), "overview-table"))


def _dataset_n(rows: list[dict], dataset: str) -> str:
  ns = sorted({r["n"] for r in rows if r["dataset"] == dataset})
  return "/".join(map(str, ns))


def scores(rows, views) -> str:
  sweep = any(r["trial"] for r in rows)
  header = ((["trial"] if sweep else []) + ["dataset", "model", "regime", "split", "reducer",
                                            "clusterer", "N", "k (classes)", "clusters", "NMI",
                                            "ARI", "AMI", "silhouette", "accuracy", "dim",
                                            "seconds", "skipped"])
  body = []
  for r in rows:
    box = _box(views.get((r["trial"], r["dataset"], r["model"], r["regime"])), r)
    tds = ([_td(r["trial"])] if sweep else []) + [
        _td(r[c]) for c in ("dataset", "model", "regime", "split", "reducer", "clusterer")]
    tds += [_td(r["n"]), _td(r["n_classes"]), _td(r["n_clusters"]),
            _td(r["nmi"], extra=_sd(r, "nmi") + _ci(box, "nmi")),
            _td(r["ari"], extra=_sd(r, "ari") + _ci(box, "ari")),
            _td(r["ami"]), _td(r["silhouette"]), _td(r["accuracy"]), _td(r["embedding_dim"]),
            _td(r["seconds"], 1), _td(r["skipped_files"])]
    body.append("".join(tds))
  note = ("Every row of results.csv. N = clips (or detection windows) clustered, k = classes "
          "(the k given to k-means), clusters = clusters found. NMI and ARI: mean ± sd over "
          "the evaluation seeds, [low, high] = 95% half-sample interval (absent when "
          "evaluate.interval_draws < 2). Silhouette is on the original embedding.")
  return (f'<h2 id="scores">All scores</h2><p class="note">{_esc(note)}</p>'
          + _table(header, body, len(header) - 11, "scores-table"))


def deltas(rows) -> str:
  keyed = {(r["trial"], r["dataset"], r["model"], r["split"], r["reducer"], r["clusterer"],
            r["regime"]): r for r in rows}
  pairs = [k[:-1] for k in keyed if k[-1] == "finetuned" and k[:-1] + ("frozen",) in keyed]
  if not pairs:
    return ('<h2 id="deltas">Frozen vs fine-tuned</h2><p class="note">No cell ran both regimes '
            "(add <code>regimes=frozen+finetuned</code> to the config arg).</p>")
  sweep = any(r["trial"] for r in rows)
  header = ((["trial"] if sweep else []) + ["dataset", "model", "split", "reducer", "clusterer",
                                            "NMI frozen", "NMI tuned", "NMI delta", "ARI frozen",
                                            "ARI tuned", "ARI delta"])
  body = []
  for key in pairs:
    frozen, tuned = keyed[key + ("frozen",)], keyed[key + ("finetuned",)]
    tds = ([_td(key[0])] if sweep else []) + [_td(v) for v in key[1:]]
    for metric in ("nmi", "ari"):
      test = paired.compare_rows(tuned, frozen, metric)  # A = fine-tuned
      css = {paired.A_BETTER: "up", paired.B_BETTER: "down"}.get(test.verdict, "")
      tds += [_td(frozen[metric], extra=_sd(frozen, metric)),
              _td(tuned[metric], extra=_sd(tuned, metric)),
              _td(test.difference, css=css, extra=_ci({metric: (test.lo, test.hi)}, metric))]
    body.append("".join(tds))
  return ('<h2 id="deltas">Frozen vs fine-tuned</h2><p class="note">Fine-tuned minus frozen, same '
          "dataset, model and protocol (scores: mean ± sd over the evaluation seeds); delta "
          "[low, high] = its paired 95% interval; green / red: a paired test on the same clips "
          "(evaluate/paired.py) finds fine-tuning better / worse; uncoloured: no detectable "
          "difference (or rows that cannot be paired).</p>"
          + _table(header, body, len(header) - 6, "deltas-table"))


def paper(rows, paper_csv: str | None) -> str:
  title = '<h2 id="paper">Compared with the paper</h2>'
  if not paper_csv or not os.path.exists(paper_csv):
    return title + '<p class="note">No paper reference csv given.</p>'
  matched = reference_lib.paper_rows(rows, reference_lib.read_reference(paper_csv))
  if not matched:
    return title + ('<p class="note">No run here matches the paper\'s datasets and models (real '
                    "BEANS data, fine-tuned, UMAP + k-means), so there is nothing to compare."
                    "</p>")
  header = ["dataset", "model", "split", "UMAP", "NMI ours", "NMI paper", "ARI ours",
            "ARI paper", "Sil ours", "Sil paper"]
  body = []
  for r, paper in matched:
    umap = reference_lib.umap_key(r)
    tds = [_td(r["dataset"]), _td(r["model"]), _td(r["split"]), _td(f"({umap[0]}, {umap[1]:g})")]
    for metric in ("nmi", "ari", "silhouette"):
      tds += [_td(r[metric]), _td(paper[metric])]
    body.append("".join(tds))
  return (title + '<p class="note">Paper: fine-tuned, UMAP + k-means at the UMAP setting each '
          "row of ours ran, from its saved notebooks; n/a: no paper number. Ours: regime "
          "finetuned, umap + kmeans.</p>"
          + _table(header, body, 4, "paper-table"))
