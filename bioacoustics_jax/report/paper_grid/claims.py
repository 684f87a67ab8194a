"""The paper's three claims as computed checks, each with a verdict line (document.py
writes them into paper_report.md).

(1) Frozen audio-pretrained models (vggish, aves, aves_all) cluster worse than a fine-tuned
    ImageNet AlexNet: per dataset, alex fine-tuned vs each frozen audio model's NMI.
(2) Audio-pretrained models fail to separate background windows from labelled calls in the
    detection sets, with or without fine-tuning, while ResNets do: per detection dataset and
    regime, the audio models' mean background separation (below) vs the ResNets' mean.
(3) Audio-pretrained models do better when fewer background windows are used in fine-tuning:
    per audio model and detection dataset, fine-tuned NMI with fewer background vs with all.

Each case is decided by a paired test on the same clips, never by comparing two means
(claim_tests.py: evaluate/paired.py on NMI for claims 1 and 3, on the background AUC for claim
2); the verdict is SUPPORTED, CONTRADICTED, UNDECIDED (tests ran, no consistent difference) or
NOT TESTABLE, and the line names the test that decided and the counts. Claim 3 compares two
different clip sets (fewer background drops the background windows from the test split), which
a same-clips paired test cannot compare: it comes out NOT TESTABLE, with that reason.

Background separation (claim 2), defined here: the leave-one-out kNN background AUC. Each
window of the test split scores the fraction of its k = 10 nearest neighbours (Euclidean, in
the embedding as extracted: the space UMAP and t-SNE see) that are background; the score's ROC
AUC for "is background" is the separation. Why this and not NMI/silhouette of the 2-way
partition: it needs no clustering (k-means with k = number of labels says nothing about the
background/call boundary itself), AUC is insensitive to the background share (often most of the
windows), and it is local, as the neighbour graphs of UMAP and t-SNE are. 0.5 = background
windows are mixed with calls like chance; 1.0 = every background window's neighbours are
background and every call's are calls. Sets over 5,000 windows are scored on a seeded sample.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Sequence

import numpy as np

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report import seed_spread
from bioacoustics_jax.report.paper_grid import claim_tests
from bioacoustics_jax.report.paper_grid import grid_rows

AUDIO_MODELS = ("vggish", "aves", "aves_all")
IMAGENET_FINETUNED = "alex"
RESNETS = ("rn18", "rn18p", "rn50", "rn50p", "rn152", "rn152p")
KNN_K = 10
MAX_POINTS = 5000


@dataclasses.dataclass
class Verdict:
  claim: int
  statement: str
  verdict: str  # claim_tests: SUPPORTED | CONTRADICTED | UNDECIDED | NOT TESTABLE
  line: str     # the verdict line: the test, the counts and the rule
  table: list[list[str]]  # header row first; [] when not testable


def background_auc(embeddings: np.ndarray, is_background: np.ndarray, k: int = KNN_K,
                   max_points: int = MAX_POINTS, seed: int = 0) -> float:
  """Leave-one-out kNN background AUC (module doc); NaN when either side has < 2 windows."""
  from sklearn.metrics import roc_auc_score  # pylint: disable=g-import-not-at-top
  from sklearn.neighbors import NearestNeighbors  # pylint: disable=g-import-not-at-top
  x = np.asarray(embeddings, np.float32)
  y = np.asarray(is_background, bool)
  if len(x) > max_points:
    keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    x, y = x[keep], y[keep]
  if y.sum() < 2 or (~y).sum() < 2:
    return math.nan
  k = min(k, len(x) - 1)
  # kneighbors() without X leaves each point out of its own neighbours (leave-one-out).
  _, neighbours = NearestNeighbors(n_neighbors=k).fit(x).kneighbors()
  return float(roc_auc_score(y, y[neighbours].mean(axis=1)))


def embeddings_path(row: dict) -> str | None:
  """The embedding set a results row was computed from (under its run's embeddings/)."""
  folder = os.path.join(row["_root"], "embeddings", row["dataset"], row["model"].replace(":", "-"))
  path = os.path.join(folder, f"{row['regime']}-{row['cell_key']}.npz")
  return path if os.path.exists(path) else None


BackgroundSets = dict  # {(model, dataset, regime): (embeddings, is_background, ids)}


def background_sets(table: dict, setting: grid_rows.Setting) -> BackgroundSets:
  """The test windows of every detection cell (background "all") of `setting`'s rows whose
  embedding file is there."""
  out = {}
  for (model, dataset, regime, background, s), metrics in table.items():
    if s != setting or background != "all":
      continue
    path = embeddings_path(metrics["nmi"].rows[-1])
    if path is None:
      continue
    es = EmbeddingSet.load(path)
    if es.targets is None:  # classification: no background
      continue
    out[(model, dataset, regime)] = (es.embeddings, es.labels == 0, list(es.ids))
  return out


def separation_table(sets: BackgroundSets) -> dict[tuple[str, str, str], float]:
  """{(model, dataset, regime): background AUC} of `background_sets`."""
  return {key: background_auc(x, is_background) for key, (x, is_background, _) in sets.items()}


def _fmt(v: float) -> str:
  return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def _row(table, model, dataset, regime, background, setting) -> dict | None:
  """The cell's results row (its first eval seed's; a mean over evaluate.seeds itself)."""
  cell = table.get((model, dataset, regime, background, setting))
  return cell["nmi"].rows[0] if cell and math.isfinite(cell["nmi"].mean) else None


def _nmi_text(row: dict) -> str:
  return seed_spread.text(row, "nmi")


def _line(n: int, verdict: str, counts: dict, cases: str, test: str, rule: str,
          missing: str, reasons: list[str]) -> str:
  if not counts:
    return f"Claim {n}: NOT TESTABLE: {missing}"
  why = f" Not paired: {reasons[0]}." if reasons else ""
  return (f"Claim {n}: {verdict} by {test}: {claim_tests.counts_text(counts)} of "
          f"{sum(counts.values())} {cases} ({rule}).{why}")


_NMI_TEST = f"a paired test of NMI on the same clips ({paired.METHOD})"


def claim1(table: dict, setting: grid_rows.Setting, datasets: Sequence[str]) -> Verdict:
  statement = ("Frozen audio-pretrained models (vggish, aves, aves_all) cluster worse than a "
               "fine-tuned ImageNet AlexNet")
  header = ["dataset", "alex fine-tuned NMI", "frozen audio model: NMI, alex - it [95 %]",
            "case"]
  body, cases, reasons = [], [], []
  for d in datasets:
    audio = {m: _row(table, m, d, "frozen", "all", setting) for m in AUDIO_MODELS}
    audio = {m: r for m, r in audio.items() if r is not None}
    alex = _row(table, IMAGENET_FINETUNED, d, "finetuned", "all", setting)
    if not audio or alex is None:
      continue
    tests = {m: paired.compare_rows(alex, r, "nmi") for m, r in audio.items()}  # A = alex
    verdict, reason = claim_tests.case(list(tests.values()))
    cases.append(verdict)
    reasons += [reason] if reason else []
    body.append([d, _nmi_text(alex), "; ".join(
        f"{m} {_nmi_text(audio[m])}, {claim_tests.interval_text(t)}" for m, t in tests.items()),
                 verdict])
  verdict, counts = claim_tests.overall(cases)
  line = _line(1, verdict, counts, f"datasets under {setting.title}", _NMI_TEST,
               "holds: alex fine-tuned detected better than every frozen audio model",
               f"needs frozen cells of {'/'.join(AUDIO_MODELS)} and fine-tuned "
               f"{IMAGENET_FINETUNED} cells on one dataset, under {setting.title}.", reasons)
  return Verdict(1, statement, verdict, line, [header] + body if body else [])


def claim2(separation: dict[tuple[str, str, str], float], sets: BackgroundSets) -> Verdict:
  statement = ("Audio-pretrained models fail to separate background from labelled windows in "
               "the detection sets, with or without fine-tuning, while ResNets do")
  header = ["dataset", "regime", "audio models' mean AUC", "ResNets' mean AUC",
            "ResNets - audio [95 %]", "case"]
  body, cases, reasons = [], [], []
  for dataset, regime in sorted({(d, r) for _, d, r in separation}):
    def present(models):
      return [m for m in models if math.isfinite(separation.get((m, dataset, regime), math.nan))]
    audio, resnets = present(AUDIO_MODELS), present(RESNETS)
    if not (audio and resnets):
      continue
    test = claim_tests.auc_test([sets[(m, dataset, regime)] for m in resnets],
                                [sets[(m, dataset, regime)] for m in audio], background_auc)
    verdict, reason = claim_tests.case([test])  # A = the ResNets
    cases.append(verdict)
    reasons += [reason] if reason else []
    body.append([dataset, regime, _fmt(test.b), _fmt(test.a), claim_tests.interval_text(test),
                 verdict])
  verdict, counts = claim_tests.overall(cases)
  line = _line(2, verdict, counts, "detection dataset x regime pairs",
               f"a paired test of the kNN background AUC on the same windows "
               f"({claim_tests.AUC_DRAWS} background-stratified halves, evaluate/paired.py)",
               "holds: the ResNets' mean AUC detected above the audio models'",
               f"needs detection cells of {'/'.join(AUDIO_MODELS)} and of a ResNet "
               f"({'/'.join(RESNETS)}) with their embedding files.", reasons)
  return Verdict(2, statement, verdict, line, [header] + body if body else [])


def claim3(table: dict, setting: grid_rows.Setting, datasets: Sequence[str]) -> Verdict:
  statement = ("Audio-pretrained models do better when fewer background windows are used in "
               "fine-tuning")
  header = ["model", "dataset", "NMI all windows", "NMI fewer background",
            "fewer - all [95 %]", "case"]
  body, cases, reasons = [], [], []
  for m in AUDIO_MODELS:
    for d in datasets:
      full = _row(table, m, d, "finetuned", "all", setting)
      fewer = _row(table, m, d, "finetuned", "fewer", setting)
      if full is None or fewer is None:
        continue
      test = paired.compare_rows(fewer, full, "nmi")  # A = fewer background
      verdict, reason = claim_tests.case([test])
      cases.append(verdict)
      reasons += [reason] if reason else []
      body.append([m, d, _nmi_text(full), _nmi_text(fewer), claim_tests.interval_text(test),
                   verdict])
  verdict, counts = claim_tests.overall(cases)
  line = _line(3, verdict, counts,
               f"audio model x detection dataset pairs under {setting.title}", _NMI_TEST,
               "holds: fewer background detected better than all windows",
               f"needs fine-tuned {'/'.join(AUDIO_MODELS)} cells with both background "
               f"settings on a detection dataset, under {setting.title}.", reasons)
  if verdict == claim_tests.NOT_TESTABLE and any("same clips" in r for r in reasons):
    line += (" The two NMIs are over different clip sets (fewer background removes the "
             "background windows from the test split), which a same-clips paired test cannot "
             "compare; the table shows both for reference.")
  return Verdict(3, statement, verdict, line, [header] + body if body else [])


def separation_figure(separation: dict[tuple[str, str, str], float], out_png: str) -> str | None:
  """Bars of the background AUC per model, one group per detection dataset, one panel per
  regime; audio-pretrained models hatched."""
  if not separation:
    return None
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  models = sorted({m for m, _, _ in separation})
  datasets = sorted({d for _, d, _ in separation})
  regimes = [r for r in ("frozen", "finetuned") if any(k[2] == r for k in separation)]
  fig, axes = plt.subplots(1, len(regimes), figsize=(max(6, 2.2 * len(datasets)) * len(regimes),
                                                     3.8), squeeze=False, dpi=100)
  width = 0.8 / max(1, len(models))
  cmap = plt.get_cmap("tab20")
  try:
    for ax, regime in zip(axes[0], regimes):
      for i, m in enumerate(models):
        vals = [separation.get((m, d, regime), math.nan) for d in datasets]
        ax.bar(np.arange(len(datasets)) + i * width, vals, width, color=cmap(i % 20), label=m,
               hatch="//" if m in AUDIO_MODELS else None, edgecolor="black", linewidth=0.3)
      ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
      ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, fontsize=8)
      ax.set_ylim(0, 1)
      ax.set_ylabel("kNN background AUC")
      ax.set_title(f"background vs calls, {regime} (0.5 = chance)", fontsize=9)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    os.makedirs(os.path.dirname(out_png) or ".", exist_ok=True)
    fig.savefig(out_png, bbox_inches="tight")
  finally:
    plt.close(fig)
  return out_png
