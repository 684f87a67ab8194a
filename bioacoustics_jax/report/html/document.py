"""report.html: one self-contained page per run or sweep, built from the files in the workdir.

experiment.py writes it after report.md; `python -m bioacoustics_jax.report --workdir=W` rebuilds
both offline. It reads only what a run leaves on disk:

  results.csv (or runs/*/results.csv for a sweep)  -> score_tables.py: the models x datasets
                                                      overview, all scores (sortable, N, k,
                                                      intervals), frozen vs fine-tuned deltas,
                                                      the paper comparison
  views/<dataset>/<model>/<regime>.npz (views.py)  -> the scatter grid: true labels beside each
                                                      scored clustering, hover = clip id/label/file
  probes.csv                                       -> run_sections.py: probe / kNN / few-shot
  train/**/metrics.jsonl, train/**/sweep.json      -> fine-tuning curves, the chosen lr and epoch
  runs/*/run.json                                  -> run_sections.py: each fine-tuned cell's
                                                      chosen lr and best epoch; provenance
                                                      (config, command, commit, dirty, versions,
                                                      devices, start, end, status)

Images are matplotlib PNGs inlined as data URIs and the script is a few dozen lines inlined too
(page_assets.py): no network, no CDN, no new dependency. Plotly or Bokeh would give zoom for free
but inline 1-4.5 MB of JavaScript into every page and add a pin to keep; static images print,
open anywhere, and the hover only needs the points' pixel positions, which matplotlib knows.
Scatters above MAX_POINTS points (fewer when the page has many cells: PAGE_POINTS in all, at least
MIN_POINTS each) are drawn from a seeded random subset, and the page says so.
"""

from __future__ import annotations

import collections
import datetime
import html
import json
import os
from typing import Any

import numpy as np

from bioacoustics_jax import paths
from bioacoustics_jax.report.html import figures as html_figures
from bioacoustics_jax.report.html import page_assets
from bioacoustics_jax.report.html import run_sections
from bioacoustics_jax.report.html import score_tables
from bioacoustics_jax.report.html import views as views_lib
from bioacoustics_jax.results import store as results_lib

MAX_POINTS = 3000  # per scatter
# For the whole page: a BEANS-sized grid (220 cells) gets ~300 points a scatter, not 3000, so the
# page stays ~55 kB per cell (three panels) plus ~75 bytes per point shown.
PAGE_POINTS = 60_000
MIN_POINTS = 300
PREFERRED_PROJECTIONS = ("umap", "tsne", "pca")
PROJECTION_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
PANEL_WIDTH = 230  # px on the page (drawn larger, so it stays sharp on high-density screens)
PROVENANCE_FIELDS = ("status", "command", "commit", "dirty", "start", "end", "devices", "versions",
                     "config")

_esc = html.escape


# ---------------------------------------------------------------- what the workdir holds


def _trials(workdir: str) -> list[tuple[str, str]]:
  """[(trial name, its workdir)]: [("", workdir)] for a run, one per runs/*/ for a sweep."""
  if paths.exists(os.path.join(workdir, "results.csv")):
    return [("", workdir)]
  found = paths.glob(os.path.join(workdir, "runs", "*", "results.csv"))
  return [(os.path.basename(os.path.dirname(p)), os.path.dirname(p)) for p in found]


def _load_rows(trials) -> list[dict]:
  rows = []
  for trial, trial_dir in trials:
    rows += [dict(r, trial=trial) for r in
             results_lib.read_results(os.path.join(trial_dir, "results.csv"))]
  return rows


def _load_views(trials) -> dict[tuple[str, str, str, str], views_lib.CellView]:
  out = {}
  for trial, trial_dir in trials:
    for view in views_lib.load_all(trial_dir):
      out[(trial, view.dataset, view.model, view.regime)] = view
  return out


def _provenance(workdir: str) -> list[tuple[str, dict]]:
  # Per invocation (runs/<id>/run.json), per sweep trial (runs/<trial>/[runs/<id>/]run.json),
  # or one for the workdir: wherever the provenance writer settles, the page finds it.
  found = sorted(set(paths.glob(os.path.join(workdir, "run.json")) +
                     paths.glob(os.path.join(workdir, "runs", "*", "run.json")) +
                     paths.glob(os.path.join(workdir, "runs", "*", "runs", "*", "run.json"))))
  out = []
  for path in found:
    try:
      out.append((os.path.relpath(path, workdir), json.loads(paths.read_text(path))))
    except (OSError, ValueError) as error:
      out.append((os.path.relpath(path, workdir), {"status": f"unreadable: {error}"}))
  return out


def _subsample(n: int, limit: int) -> np.ndarray:
  if n <= limit:
    return np.arange(n)
  return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def _cell_figures(view: views_lib.CellView, key: str, max_points: int, data: dict) -> str:
  reducer = next((r for r in PREFERRED_PROJECTIONS if r in view.projections), None)
  if reducer is None:
    return '<p class="note">No 2-D projection saved.</p>'
  keep = _subsample(len(view.labels), max_points)
  xy = view.projections[reducer][keep]
  labels = view.labels[keep]
  lims = html_figures.limits(xy)
  axis = PROJECTION_NAMES.get(reducer, reducer)
  names = [str(n) for n in view.label_names]
  colours = html_figures.palette(names)
  uri, positions = html_figures.scatter_panel(xy, labels, colours, "true labels", axis, lims)
  panels = [("labels", "true labels", uri)]  # (panel name, its title, image)
  clusters = {}
  for (red, clusterer), predicted in view.predicted.items():  # the evaluator's order
    if red != reducer:
      continue
    predicted = predicted[keep]
    by_cluster = html_figures.cluster_palette(labels, predicted, colours)
    ids = sorted(by_cluster)
    uri, _ = html_figures.scatter_panel(
        xy, np.searchsorted(ids, predicted), [by_cluster[c] for c in ids],
        f"{clusterer}: {_count(len(set(predicted.tolist())), 'cluster')}", axis, lims)
    panels.append((clusterer, f"{clusterer} clusters", uri))
    clusters[clusterer] = predicted.tolist()
  data[key] = {"x": np.round(positions[:, 0], 4).tolist(),
               "y": np.round(positions[:, 1], 4).tolist(),
               "id": [view.ids[i] for i in keep], "label": labels.tolist(), "names": names,
               "clusters": clusters, "root": f"{view.dataset}/"}
  figures = "".join(
      f'<figure><img class="scatter" src="{uri}" data-cell="{_esc(key)}" data-panel="{name}" '
      f'width="{PANEL_WIDTH}" '
      f'alt="{_esc(f"{view.dataset} {view.model} {view.regime} {axis} {caption}")}"></figure>'
      for name, caption, uri in panels)
  counts = collections.Counter(view.labels.tolist())
  legend = "".join(f'<span><i style="background:{html_figures.hex_colour(colours[c])}"></i>'
                   f"{_esc(names[c] if 0 <= c < len(names) else str(c))} ({counts[c]})</span>"
                   for c in sorted(counts))
  shown = (f"{len(keep)} of {len(view.labels)} points shown (seeded random subset)"
           if len(keep) < len(view.labels) else f"N={len(view.labels)}")
  return (f'<div class="cell">{figures}</div><div class="legend">{axis} of the {view.split} '
          f"split, {shown}, {len(counts)} classes: {legend}</div>")


def _count(n: int, noun: str) -> str:
  return f"{n} {noun}" + ("" if n == 1 else "s")


def _scatter_grid(trials, rows, views, max_points: int, data: dict) -> str:
  parts = ['<h2 id="scatters">Scatters</h2><p class="note">Each cell: the 2-D projection named on '
           "its axes, coloured by true label, then by each scored clustering of that projection. "
           "A cluster wears the colour of the class it is matched to one-to-one (Hungarian, on "
           "overlap), so a clustering that finds the classes looks like the true labels; "
           "unmatched clusters take a second palette, HDBSCAN noise is grey. Hover a point for "
           "its clip id, label, clusters and file.</p>"]
  for trial, _ in trials:
    cells = {k: v for k, v in views.items() if k[0] == trial}
    if not cells:
      parts.append(f'<p class="note">{_esc(trial or "This run")}: no views saved (runs before '
                   "report/html/views.py existed); re-run to draw them.</p>")
      continue
    # The run's own order (results.csv): datasets, then models, frozen before fine-tuned.
    mine = [r for r in rows if r["trial"] == trial]
    datasets = list(dict.fromkeys([r["dataset"] for r in mine] + [k[1] for k in sorted(cells)]))
    lines = list(dict.fromkeys([(r["model"], r["regime"]) for r in mine]
                               + [(k[2], k[3]) for k in sorted(cells)]))
    # One row per model and regime; its datasets wrap onto the next line when the window is
    # narrower than the row (page_assets.STYLE), so no dataset is ever off-screen.
    body = []
    for model, regime in lines:
      tds = []
      for d in datasets:
        view = cells.get((trial, d, model, regime))
        if view:
          key = f"{trial}|{d}|{model}|{regime}"
          tds.append(f'<div class="grid-cell"><div class="where">{_esc(d)}</div>'
                     f"{_cell_figures(view, key, max_points, data)}</div>")
      body.append(f'<div class="grid-row"><h4>{_esc(model)} {_esc(regime)}</h4>'
                  f'<div class="grid-cells">{"".join(tds)}</div></div>')
    grid = f'<div class="grid">{"".join(body)}</div>'
    parts.append(f"<details open><summary>{_esc(trial)}</summary>{grid}</details>" if trial
                 else grid)
  return "\n".join(parts)


def _read_jsonl(path: str) -> list[dict]:
  return [json.loads(line) for line in paths.read_text(path).splitlines() if line.strip()]


def _curves(trials) -> str:
  parts = []
  for trial, trial_dir in trials:
    train_dir = os.path.join(trial_dir, "train")
    # A fine-tuning's folder holds sweep.json and, with several learning rates, one lr_<value>
    # folder per rate (train/finetune.py); any folders above it (dataset, model, training key)
    # name it.
    groups = collections.defaultdict(list)
    for path in paths.glob(os.path.join(train_dir, "**", "metrics.jsonl")):
      rel = os.path.relpath(os.path.dirname(path), train_dir).split(os.sep)
      sub = rel.pop() if rel[-1].startswith("lr_") else ""
      groups[tuple(rel)].append((sub, path))
    for group, files in sorted(groups.items()):
      sweep_path = os.path.join(train_dir, *group, "sweep.json")
      sweep = json.loads(paths.read_text(sweep_path)) if paths.exists(sweep_path) else {}
      selected = sweep.get("selected_learning_rate")
      series, best = {}, None
      for sub, path in files:
        lr = sub.removeprefix("lr_") if sub else (f"{selected:g}" if selected else "?")
        by_step = collections.defaultdict(dict)
        for row in _read_jsonl(path):  # a resumed run repeats steps: the later line counts
          for k, v in row.items():
            if k not in ("kind", "step", "time", "epoch") and isinstance(v, (int, float)):
              by_step[f"{row['kind']}/{k}"][row["step"]] = float(v)
        series[lr] = {m: (sorted(s), [s[i] for i in sorted(s)]) for m, s in by_step.items()
                      if m in ("train/loss",) or m.startswith("valid/")}
        chosen = next((r for r in sweep.get("runs", []) if selected is not None
                       and r.get("learning_rate") == selected), None)
        if chosen and lr == f"{selected:g}" and chosen.get("best_epoch") is not None:
          for row in _read_jsonl(path):
            if row["kind"] == "valid" and row.get("epoch") == chosen["best_epoch"]:
              best = (f"valid/{chosen['metric']}", row["step"])
      title = " / ".join(filter(None, (trial, *group)))
      uri = html_figures.curves_panel(series, title, best)
      best_epoch = next((r.get("best_epoch") for r in sweep.get("runs", [])
                         if r.get("learning_rate") == selected), "?")
      chosen_text = (f"selected lr {selected:g}, best epoch {best_epoch}" if selected is not None
                     else "no sweep.json (unfinished?)")
      train_acc = sweep.get("train_accuracy") or {}
      if "eval_mode" in train_acc:
        # A BatchNorm collapse shows as eval-mode far below train-mode on the training clips.
        chosen_text += (f"; train-clip accuracy eval mode {train_acc['eval_mode']:.3f} vs "
                        f"train mode {train_acc['train_mode']:.3f}")
      parts.append(f'<figure><img class="curve" src="{uri}" alt="{_esc(title)} curves">'
                   f"<figcaption>{_esc(title)}: {_esc(chosen_text)} (dashed line); lines: "
                   f"{_esc(', '.join(f'lr {lr}' for lr in sorted(series)))}</figcaption>"
                   "</figure>")
  body = "".join(parts) or ('<p class="note">No fine-tuning in this run (regime frozen only).'
                            "</p>")
  return ('<h2 id="curves">Fine-tuning curves</h2><p class="note">From train/**/metrics.jsonl: '
          "training loss and validation metrics per learning rate; TensorBoard shows the same "
          "(<code>tensorboard --logdir=WORKDIR</code>).</p>" + body)


def _provenance_section(workdir: str) -> str:
  records = _provenance(workdir)
  title = '<h2 id="provenance">Provenance</h2>'
  if not records:
    return title + '<p class="note">No provenance recorded (no runs/*/run.json in the workdir).</p>'
  parts = [title]
  for rel, record in records:
    items = []
    for field in PROVENANCE_FIELDS:
      if field not in record:
        continue
      value = record[field]
      if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=1, default=str)
        items.append(f"<dt>{field}</dt><dd><pre class=\"config\">{_esc(text)}</pre></dd>")
      else:
        items.append(f"<dt>{field}</dt><dd><code>{_esc(str(value))}</code></dd>")
    parts.append(f"<h3>{_esc(rel)}</h3><dl>{''.join(items)}</dl>")
  return "\n".join(parts)


def _skipped_section(views) -> str:
  entries = [(k, v.skipped) for k, v in sorted(views.items()) if v.skipped]
  title = '<h2 id="skipped">Skipped files</h2>'
  if not entries:
    return title + '<p class="note">No file was skipped.</p>'
  seen, items = set(), []
  for (trial, dataset, _, _), skipped in entries:
    for entry in skipped:
      text = entry if isinstance(entry, str) else json.dumps(entry, default=str)
      if (trial, dataset, text) not in seen:
        seen.add((trial, dataset, text))
        items.append(f"<li>{_esc(' / '.join(filter(None, (trial, dataset))))}: "
                     f"<code>{_esc(text)}</code></li>")
  return title + f"<ul>{''.join(items)}</ul>"


# ---------------------------------------------------------------- the page


def write_html(workdir: str, out_html: str | None = None, paper_csv: str | None = None,
               max_points: int = MAX_POINTS) -> str:
  """Writes `out_html` (default `<workdir>/report.html`) from the workdir's files; returns it."""
  trials = _trials(workdir)
  rows = _load_rows(trials)
  if not rows:
    raise ValueError(f"{workdir} has no results.csv (nor runs/*/results.csv); run an experiment "
                     "first.")
  views = _load_views(trials)
  per_scatter = min(max_points, max(MIN_POINTS, PAGE_POINTS // max(1, len(views))))
  data: dict[str, Any] = {}
  sections = [score_tables.overview(rows, views, score_tables.headline_pair(rows)),
              score_tables.scores(rows, views), score_tables.deltas(rows),
              score_tables.paper(rows, paper_csv), run_sections.probes(trials),
              _scatter_grid(trials, rows, views, per_scatter, data),
              run_sections.training(trials), _curves(trials), _provenance_section(workdir),
              _skipped_section(views)]
  nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (
      ("overview", "overview"), ("scores", "all scores"), ("deltas", "frozen vs fine-tuned"),
      ("paper", "paper"), ("probes", "probes + kNN"), ("scatters", "scatters"),
      ("training", "chosen lr"), ("curves", "curves"),
      ("provenance", "provenance"), ("skipped", "skipped files")))
  kind = f"sweep of {len(trials)} trials" if any(t for t, _ in trials) else "run"
  datasets = len({r["dataset"] for r in rows})
  models = len({r["model"] for r in rows})
  subtitle = (f"{_esc(paths.absolute(workdir))}: a {kind}, {len(rows)} result rows over "
              f"{datasets} dataset(s) x {models} model(s). Written "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; rebuild with "
              f"<code>python -m bioacoustics_jax.report --workdir={_esc(workdir)}</code>.")
  # "</" inside the JSON would end its <script> element early.
  cell_data = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
  page = page_assets.PAGE.substitute(
      title=_esc(f"Clustering report: {os.path.basename(paths.absolute(workdir))}"),
      subtitle=subtitle, nav=nav, body="\n".join(sections), cell_data=cell_data,
      style=page_assets.STYLE, script=page_assets.SCRIPT)
  out_html = out_html or os.path.join(workdir, "report.html")
  paths.write_text(out_html, page)  # a temporary file renamed over out_html
  return out_html
