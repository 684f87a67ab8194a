"""The paper's three claims as computed checks, each with a verdict line (document.py
writes them into paper_report.md).

(1) Frozen audio-pretrained models (vggish, aves, aves_all) cluster worse than a fine-tuned
    ImageNet AlexNet: per dataset, the best frozen audio model's NMI vs alex fine-tuned.
(2) Audio-pretrained models fail to separate background windows from labelled calls in the
    detection sets, with or without fine-tuning, while ResNets do: per detection dataset and
    regime, the audio models' mean background separation (below) vs the ResNets' mean.
(3) Audio-pretrained models do better when fewer background windows are used in fine-tuning:
    per audio model and detection dataset, fine-tuned NMI with fewer background vs with all.

A claim "holds" on a dataset (or pair) when the inequality is strict; the verdict is SUPPORTED
when it holds on more than half of the testable cases, NOT SUPPORTED otherwise, and NOT
TESTABLE when no case has the numbers it needs (the line names what is missing).

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
  verdict: str  # "SUPPORTED" | "NOT SUPPORTED" | "NOT TESTABLE"
  line: str     # the verdict line: counts and the rule
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


def separation_table(table: dict, setting: grid_rows.Setting
                     ) -> dict[tuple[str, str, str], float]:
  """{(model, dataset, regime): background AUC} of every detection cell (background "all") of
  `setting`'s rows whose embedding file is there."""
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
    out[(model, dataset, regime)] = background_auc(es.embeddings, es.labels == 0)
  return out


def _fmt(v: float) -> str:
  return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def _verdict(holds: list[bool]) -> str:
  if not holds:
    return "NOT TESTABLE"
  return "SUPPORTED" if sum(holds) > len(holds) / 2 else "NOT SUPPORTED"


def _nmi(table, model, dataset, regime, background, setting) -> float:
  cell = table.get((model, dataset, regime, background, setting))
  return cell["nmi"].mean if cell else math.nan


def claim1(table: dict, setting: grid_rows.Setting, datasets: Sequence[str]) -> Verdict:
  statement = ("Frozen audio-pretrained models (vggish, aves, aves_all) cluster worse than a "
               "fine-tuned ImageNet AlexNet")
  header = ["dataset", "best frozen audio model", "its NMI", "alex fine-tuned NMI", "holds"]
  body, holds = [], []
  for d in datasets:
    audio = {m: _nmi(table, m, d, "frozen", "all", setting) for m in AUDIO_MODELS}
    audio = {m: v for m, v in audio.items() if math.isfinite(v)}
    alex = _nmi(table, IMAGENET_FINETUNED, d, "finetuned", "all", setting)
    if not audio or not math.isfinite(alex):
      continue
    best = max(audio, key=audio.get)
    holds.append(audio[best] < alex)
    body.append([d, best, _fmt(audio[best]), _fmt(alex), "yes" if holds[-1] else "no"])
  verdict = _verdict(holds)
  line = (f"Claim 1: {verdict} under {setting.title}: holds on {sum(holds)} of {len(holds)} "
          f"datasets (best frozen audio NMI < alex fine-tuned NMI)." if holds else
          f"Claim 1: NOT TESTABLE under {setting.title}: needs frozen cells of "
          f"{'/'.join(AUDIO_MODELS)} and fine-tuned {IMAGENET_FINETUNED} cells on one dataset.")
  return Verdict(1, statement, verdict, line, [header] + body if body else [])


def claim2(separation: dict[tuple[str, str, str], float]) -> Verdict:
  statement = ("Audio-pretrained models fail to separate background from labelled windows in "
               "the detection sets, with or without fine-tuning, while ResNets do")
  header = ["dataset", "regime", "audio models' mean AUC", "ResNets' mean AUC", "holds"]
  body, holds = [], []
  for dataset, regime in sorted({(d, r) for _, d, r in separation}):
    def mean(models):
      v = [separation.get((m, dataset, regime), math.nan) for m in models]
      v = [x for x in v if math.isfinite(x)]
      return float(np.mean(v)) if v else math.nan
    audio, resnets = mean(AUDIO_MODELS), mean(RESNETS)
    if not (math.isfinite(audio) and math.isfinite(resnets)):
      continue
    holds.append(audio < resnets)
    body.append([dataset, regime, _fmt(audio), _fmt(resnets), "yes" if holds[-1] else "no"])
  verdict = _verdict(holds)
  line = (f"Claim 2: {verdict}: holds on {sum(holds)} of {len(holds)} detection dataset x "
          f"regime pairs (audio models' mean kNN background AUC < ResNets')." if holds else
          f"Claim 2: NOT TESTABLE: needs detection cells of {'/'.join(AUDIO_MODELS)} and of a "
          f"ResNet ({'/'.join(RESNETS)}) with their embedding files.")
  return Verdict(2, statement, verdict, line, [header] + body if body else [])


def claim3(table: dict, setting: grid_rows.Setting, datasets: Sequence[str]) -> Verdict:
  statement = ("Audio-pretrained models do better when fewer background windows are used in "
               "fine-tuning")
  header = ["model", "dataset", "NMI all windows", "NMI fewer background", "holds"]
  body, holds = [], []
  for m in AUDIO_MODELS:
    for d in datasets:
      full = _nmi(table, m, d, "finetuned", "all", setting)
      fewer = _nmi(table, m, d, "finetuned", "fewer", setting)
      if not (math.isfinite(full) and math.isfinite(fewer)):
        continue
      holds.append(fewer > full)
      body.append([m, d, _fmt(full), _fmt(fewer), "yes" if holds[-1] else "no"])
  verdict = _verdict(holds)
  line = (f"Claim 3: {verdict} under {setting.title}: holds on {sum(holds)} of {len(holds)} "
          f"audio model x detection dataset pairs (fine-tuned NMI fewer background > all)."
          if holds else
          f"Claim 3: NOT TESTABLE under {setting.title}: needs fine-tuned {'/'.join(AUDIO_MODELS)}"
          " cells with both background settings on a detection dataset.")
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
