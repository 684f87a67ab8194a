r"""paper_report.md: the paper grid beside the paper's numbers, from one or several results.csv.

  python -m bioacoustics_jax.report.paper_grid RESULTS.csv [MORE.csv ...] --out=DIR \
      [--paper=REFERENCE.csv]

experiment.py writes it after a run whose config sets `paper_report` (beans_paper.py); a sweep
gathers its runs' files with the command above. Sections, in order (the table of contents at the
top of the file lists them):
  Notes: the paper mode, what still differs from BEANS, the seed-noise tolerance.
  Table I: t-SNE NMI, model x dataset (fine-tuned, then frozen), one table per perplexity.
  One section per UMAP setting: NMI (then ARI, silhouette) as "ours (paper, ours - paper)"
    wherever the reference has the number, "n/a" where it has none, and the mean differences.
  Reference rows that match no model / dataset here.
  Frozen vs fine-tuned: NMI(fine-tuned) - NMI(frozen), main setting, with its paired interval;
    bold only where the paired test on the same clips detects it (evaluate/paired.py).
  Fewer background: NMI(fewer) - NMI(all), detection sets, both regimes (different clip sets:
    no paired test, so never bold).
  The three claims (report/paper_grid/claims.py), a verdict line each, with the test that
    decided.
Scores read "mean ± sd" over evaluate.seeds (report/seed_spread.py).
  Figures: a UMAP grid (models x datasets), an NMI heatmap, the background-separation bars.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Sequence

import numpy as np

from bioacoustics_jax.data import catalog
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report import reference as reference_lib
from bioacoustics_jax.report import seed_spread
from bioacoustics_jax.report import tables
from bioacoustics_jax.report.paper_grid import claim_tests
from bioacoustics_jax.report.paper_grid import claims as claims_lib
from bioacoustics_jax.report.paper_grid import figures as paper_figures
from bioacoustics_jax.report.paper_grid import grid_rows
from bioacoustics_jax.zoo import presets as zoo_presets

PAPER_SCORES = reference_lib.PAPER_SCORES  # the shipped reference csv (package data)
MAIN_SETTING = grid_rows.Setting("umap", (50, 0.5))
# Said in the notes: what the paper mode cannot remove (issue 12, item 8).
REMAINING_DIFFERENCES = (
    "BEANS computes the mel of the whole recording, then crops each window; we compute it per "
    "window, so the last frame of a window can differ.",
    "hiceas: BEANS' window starts drift by 0.227 % (hop 220 samples at 22.05 kHz, 100.227 "
    "frames/s, while windows are placed at 100 frames/s); ours are placed in seconds.",
    "Audio is stored as int16 in the prepared data (BEANS keeps float chunks): a quantisation "
    "of 1/32768.",
    "mAP on classes absent from a split: BEANS counts their AP as 0; ours leaves them out.",
    "The paper's trainer script is not public; the fine-tuning protocol is BEANS' (PAPER.md).",
)


def _fmt(v: float, signed: bool = False) -> str:
  if v is None or not math.isfinite(v):
    return "n/a"
  return f"{v:+.3f}" if signed else f"{v:.3f}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
  return tables.markdown_table(header, body) + [""]


def _anchor(title: str) -> str:
  keep = "".join(c if c.isalnum() or c in " -" else "" for c in title.lower())
  return keep.strip().replace(" ", "-")


class _Doc:
  def __init__(self):
    self.sections: list[tuple[str, list[str]]] = []

  def add(self, title: str, lines: list[str]) -> None:
    self.sections.append((title, lines))

  def render(self, head: list[str]) -> str:
    toc = ["## Contents", ""] + [f"- [{t}](#{_anchor(t)})" for t, _ in self.sections] + [""]
    body = []
    for title, lines in self.sections:
      body += [f"## {title}", ""] + lines
    return "\n".join(head + toc + body) + "\n"


def _order(names, preferred) -> list[str]:
  names = set(names)
  return [n for n in preferred if n in names] + sorted(names - set(preferred))


def _score_table(table, setting, regime, models, datasets, reference=None, metric="nmi"):
  """Model x dataset; with a reference: 'ours (paper, ours - paper)'."""
  got = paper_figures.grid(table, setting, regime, "all", models, datasets, metric)
  body, diffs = [], []
  for m in models:
    cells = []
    if not any((m, d) in got for d in datasets):
      continue
    for d in datasets:
      ours = got[(m, d)].mean if (m, d) in got else math.nan
      text = _score_text(got[(m, d)]) if (m, d) in got else "—"
      if reference is not None:
        paper = reference.get(setting.paper_key, m, d, metric)
        diff = ours - paper if math.isfinite(ours) and math.isfinite(paper) else math.nan
        if math.isfinite(diff):
          diffs.append(diff)
        text += f" ({_fmt(paper)}, {_fmt(diff, signed=True)})"
      cells.append(text)
    body.append([m] + cells)
  return _table(["model"] + list(datasets), body) if body else ["No cells.", ""], diffs


def _score_text(score: grid_rows.Score) -> str:
  """A cell's score as mean ± sd over its seeds (grid_rows.Score)."""
  return seed_spread.mean_sd(score.mean, score.std, score.seeds)


def _delta_text(a: grid_rows.Score, b: grid_rows.Score) -> str:
  """NMI(b) - NMI(a) with its paired 95 % interval (evaluate/paired.py, A = b), bold only where
  the test detects it; without a paired test (other clips, no halves) the bare difference."""
  test = paired.compare_rows(b.rows[0], a.rows[0], "nmi")
  if not (math.isfinite(test.lo) and math.isfinite(test.hi)):
    return _fmt(b.mean - a.mean, signed=True)
  text = f"{b.mean - a.mean:+.3f} [{test.lo:+.3f}, {test.hi:+.3f}]"
  return f"**{text}**" if test.verdict in (paired.A_BETTER, paired.B_BETTER) else text


def _delta_table(table, setting, models, datasets, first, second, label):
  """Rows model x dataset of score(second) - score(first), first/second = (regime, bg)."""
  body = []
  for m in models:
    cells, any_value = [], False
    for d in datasets:
      a = table.get((m, d, *first, setting))
      b = table.get((m, d, *second, setting))
      if a and b:
        cells.append(_delta_text(a["nmi"], b["nmi"]))
        any_value = True
      else:
        cells.append("n/a")
    if any_value:
      body.append([m] + cells)
  if not body:
    return [f"No model has both {label} cells here.", ""]
  return _table(["model"] + list(datasets), body)


def _tolerance_lines(table) -> list[str]:
  stds = [s["nmi"].std for s in table.values() if s["nmi"].seeds > 1
          and math.isfinite(s["nmi"].std)]
  if not stds:
    return ["Seed noise: each cell was evaluated with one seed (42, the paper's), so no "
            "tolerance is applied and a small ours - paper cannot be told from seed noise. "
            "Re-run with `--config.evaluate.seed=` other values (embeddings are reused, only the "
            "reducer and k-means run again) and this note reports the measured spread.", ""]
  return [f"Seed noise, measured: over {len(stds)} cells evaluated with several seeds, the NMI "
          f"standard deviation across seeds has median {np.median(stds):.3f} and maximum "
          f"{np.max(stds):.3f}; |ours - paper| below about twice that is within seed noise.", ""]


def _notes(rows) -> list[str]:
  modes = sorted({str(r.get("note", "")) for r in rows if r.get("note")})
  lines = ["Ours: k-means (k = number of labels, background included; seed 42) after each "
           "reducer setting, test split. Paper: its saved notebook outputs, fine-tuned "
           "embeddings, UMAP + k-means (reference csv); its Table I (t-SNE) numbers are not in "
           "the reference, so t-SNE has no paper column. `n/a`: no number (never 0); `—`: no "
           "run of ours.", "",
           "Paper mode (beans_paper.py, default there): BEANS' class lists and order, BEANS' "
           "window count, BEANS' raw overlap > 0.2, AVES fed the dataset's own rate (as the "
           "paper's code did), ResNet-50/152 with torchvision's DEFAULT (IMAGENET1K_V2) weights. "
           "Each is a config key recorded in the cell key.", "", "Still different from BEANS:"]
  lines += [f"- {d}" for d in REMAINING_DIFFERENCES] + [""]
  if modes:
    lines += ["Row notes: " + "; ".join(modes[:5]) + ("; ..." if len(modes) > 5 else ""), ""]
  return lines


def _unmatched_reference(reference, models, datasets, settings) -> list[str]:
  lines = []
  known = set(zoo_presets.names())
  unknown = [m for m in reference.models if m not in known]
  if unknown:
    lines.append(f"- Reference model folders that name no model of the zoo: "
                 f"{', '.join('npy_' + m for m in unknown)}.")
  absent = [m for m in reference.models if m not in models and m in known]
  if absent:
    lines.append(f"- Reference models with no run here: {', '.join(absent)}.")
  unknown = [d for d in reference.datasets if d not in catalog.BEANS_ROSTER]
  if unknown:
    lines.append(f"- Reference dataset columns that name no BEANS dataset: {', '.join(unknown)}.")
  absent = [d for d in reference.datasets if d not in datasets and d not in unknown]
  if absent:
    lines.append(f"- Reference datasets with no run here: {', '.join(absent)}.")
  ran = {s.paper_key for s in settings if s.paper_key}
  absent = [k for k in sorted(reference.values) if k not in ran]
  if absent:
    lines.append("- Reference UMAP settings not run here: "
                 + ", ".join(f"({n}, {d:g})" for n, d in absent) + ".")
  ours_only = [m for m in models if m not in reference.models]
  if ours_only:
    lines.append(f"- Our models the reference does not have: {', '.join(ours_only)}.")
  ours_only = [d for d in datasets if d not in reference.datasets]
  if ours_only:
    lines.append(f"- Our datasets the reference does not have: {', '.join(ours_only)}.")
  return (lines or ["Every reference row matches a model, dataset and setting run here."]) + [""]


def _setting_order(s: grid_rows.Setting):
  """The paper's order: UMAP (50, 0.5), (50, 0.1), (100, 0.5), then t-SNE by perplexity."""
  if s.reducer == "tsne":
    return (1, 0, s.params)
  paper = [(50, 0.5), (50, 0.1), (100, 0.5)]
  return (0, paper.index(s.params) if s.params in paper else len(paper), s.params)


def write_report(results_csvs: Sequence[str], out_dir: str,
                 paper_csv: str | None = PAPER_SCORES) -> str:
  """Writes `<out_dir>/paper_report.md` and `<out_dir>/figures/paper_*.png`; returns the md."""
  rows = grid_rows.read_rows(results_csvs)
  table = grid_rows.scores(rows)
  reference = reference_lib.read_reference(paper_csv) if paper_csv else None
  models = _order({k[0] for k in table}, zoo_presets.PAPER_MODELS)
  datasets = _order({k[1] for k in table}, catalog.BEANS_ROSTER)
  settings = sorted({k[4] for k in table}, key=_setting_order)
  detection = [d for d in datasets if any(k[1] == d and k[3] == "fewer" for k in table)
               or catalog.BEANS_ROSTER.get(d, {}).get("task") == "detection"]
  figures_dir = os.path.join(out_dir, "figures")
  os.makedirs(figures_dir, exist_ok=True)
  doc = _Doc()
  doc.add("Notes", _notes(rows) + _tolerance_lines(table))

  tsne = [s for s in settings if s.reducer == "tsne"]
  lines = ["NMI after t-SNE (2-D) + k-means, the layout of the paper's Table I (its numbers are "
           "not in the reference csv). beans_paper.py runs t-SNE as the notebook did: "
           "init='random', 5000 iterations, learning_rate='auto' (the smoke grid: 250).", ""]
  for s in tsne:
    for regime in ("finetuned", "frozen"):
      lines += [f"**{s.title}, {regime}**", ""] + _score_table(table, s, regime, models,
                                                               datasets)[0]
  doc.add("Table I: t-SNE NMI", lines if tsne else ["No t-SNE setting in these results.", ""])

  # The main setting: UMAP(50, 0.5), else its stand-in slot, else the first there is.
  main = next((s for s in settings if s.params == MAIN_SETTING.params), settings[0] if settings
              else None)
  for s in [s for s in settings if s.reducer in ("umap", "pca")]:
    lines = ["Fine-tuned, all windows. Each cell: ours (paper, ours - paper)." if
             s.paper_key and reference else "Fine-tuned, all windows (no paper numbers for "
             "this setting).", ""]
    ref = reference if s.paper_key else None
    summary = []
    for metric in grid_rows.METRICS:
      part, diffs = _score_table(table, s, "finetuned", models, datasets, ref, metric)
      if metric == "nmi":
        lines += ["**NMI**", ""] + part
      else:
        lines += [f"<details><summary>{metric.upper()}</summary>", ""] + part + ["</details>", ""]
      if diffs:
        summary.append(f"{metric.upper()}: mean ours - paper {np.mean(diffs):+.3f}, mean "
                       f"|ours - paper| {np.mean(np.abs(diffs)):.3f} over {len(diffs)} cells")
    if summary:
      lines += ["; ".join(summary) + ".", ""]
    lines += ["**Frozen (NMI)**", ""] + _score_table(table, s, "frozen", models, datasets)[0]
    doc.add(s.title, lines)

  if reference is not None:
    doc.add("Reference rows without a match", _unmatched_reference(reference, models, datasets,
                                                                   settings))
  if main is not None:
    doc.add("Frozen vs fine-tuned",
            [f"NMI(fine-tuned) - NMI(frozen), {main.title}, all windows, with the paired "
             f"95 % interval ({paired.METHOD}; evaluate/paired.py, same clips); **bold**: the "
             "test detects a difference, otherwise none is detectable.", ""] + _delta_table(
                table, main, models, datasets, ("frozen", "all"), ("finetuned", "all"),
                "frozen and fine-tuned"))
    lines = [f"NMI(fewer background) - NMI(all windows), {main.title}. Fewer background: "
             "windows without any label removed from train, valid and test (the paper's "
             "ablation), so the two NMIs are over different test sets: a same-clips paired "
             "test cannot compare them, and no difference here is bold.", ""]
    for regime in ("finetuned", "frozen"):
      lines += [f"**{regime}**", ""] + _delta_table(table, main, models, detection,
                                                   (regime, "all"), (regime, "fewer"),
                                                   "all-windows and fewer-background")
    doc.add("Fewer background", lines)

  sets = claims_lib.background_sets(table, main) if main else {}
  separation = claims_lib.separation_table(sets)
  verdicts = [claims_lib.claim1(table, main, datasets), claims_lib.claim2(separation, sets),
              claims_lib.claim3(table, main, detection)] if main else []
  lines = [v.line for v in verdicts] + ["", claim_tests.RULE, ""]
  for v in verdicts:
    lines += [f"**Claim {v.claim}.** {v.statement}.", "", v.line, ""]
    if v.table:
      lines += _table(v.table[0], v.table[1:])
  lines += ["Background separation (claim 2) is " + claims_lib.__doc__.split(
      "Background separation (claim 2), defined here: ")[1].replace("\n", " ").strip(), ""]
  if separation:
    body = [[m, d, r, _fmt(v)] for (m, d, r), v in sorted(separation.items())]
    lines += ["Background separation per model and regime:", ""] + _table(
        ["model", "dataset", "regime", "kNN background AUC"], body)
  doc.add("The three claims", lines)

  figs = []
  if main is not None:
    figs.append(("UMAP grid", paper_figures.projection_grid(
        table, main, models, datasets, os.path.join(figures_dir, "paper_umap_grid.png"))))
    figs.append(("NMI heatmap", paper_figures.heatmap(
        table, main, models, datasets, reference,
        os.path.join(figures_dir, "paper_nmi_heatmap.png"))))
  figs.append(("Background separation (claim 2)", claims_lib.separation_figure(
      separation, os.path.join(figures_dir, "paper_background_separation.png"))))
  lines = []
  for title, path in figs:
    lines += [f"**{title}**", "", f"![{title}](figures/{os.path.basename(path)})" if path
              else "not drawn: no cells with the files it needs", ""]
  doc.add("Figures", lines)

  head = ["# The paper grid beside the paper", "",
          f"{len(rows)} rows from {len(results_csvs)} results file(s): {len(models)} models x "
          f"{len(datasets)} datasets, settings: {', '.join(s.title for s in settings)}.", ""]
  out_md = os.path.join(out_dir, "paper_report.md")
  with open(out_md, "w") as f:
    f.write(doc.render(head))
  return out_md


def main(argv: Sequence[str] | None = None) -> str:
  parser = argparse.ArgumentParser(prog="python -m bioacoustics_jax.report.paper_grid",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("results", nargs="+", help="results.csv file(s)")
  parser.add_argument("--out", required=True, help="folder for paper_report.md and figures/")
  parser.add_argument("--paper", default=PAPER_SCORES, help="reference csv ('' = none)")
  args = parser.parse_args(argv)
  out = write_report(args.results, args.out, args.paper or None)
  print(out)
  return out


if __name__ == "__main__":
  main()
