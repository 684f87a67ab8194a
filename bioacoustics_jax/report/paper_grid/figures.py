"""paper_report.md's figures: the NMI heatmap (ours, and ours - paper) and the UMAP grid
(models x datasets scatters of one reducer setting's saved 2-D projections)."""

from __future__ import annotations

import os

import numpy as np


def grid(table, setting, regime, background, models, datasets, metric="nmi"):
  """{(model, dataset): Score} of one setting, regime and background setting."""
  return {(m, d): table[(m, d, regime, background, setting)][metric]
          for m in models for d in datasets if (m, d, regime, background, setting) in table}


def heatmap(table, setting, models, datasets, reference, out_png) -> str | None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  regime = "finetuned"
  got = grid(table, setting, regime, "all", models, datasets)
  if not got:  # a frozen-only grid
    regime = "frozen"
    got = grid(table, setting, regime, "all", models, datasets)
  if not got:
    return None
  ours = np.array([[got[(m, d)].mean if (m, d) in got else np.nan for d in datasets]
                   for m in models])
  panels = [(f"ours: NMI, {regime}, " + setting.title, ours, "viridis", (0, 1))]
  if reference is not None and setting.paper_key and regime == "finetuned":
    paper = np.array([[reference.get(setting.paper_key, m, d, "nmi") for d in datasets] for m in models])
    panels.append(("ours - paper", ours - paper, "RdBu", (-0.5, 0.5)))
  fig, axes = plt.subplots(1, len(panels), figsize=(1 + 0.9 * len(datasets) * len(panels),
                                                    1 + 0.45 * len(models)), squeeze=False)
  try:
    for ax, (title, values, cmap, (lo, hi)) in zip(axes[0], panels):
      image = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
      for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "n/a" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                fontsize=6)
      ax.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right", fontsize=7)
      ax.set_yticks(range(len(models)), models, fontsize=7)
      ax.set_title(title, fontsize=8)
      fig.colorbar(image, ax=ax, shrink=0.8)
    fig.savefig(out_png, bbox_inches="tight", dpi=100)
  finally:
    plt.close(fig)
  return out_png


def projection_grid(table, setting, models, datasets, out_png) -> str | None:
  """Models x datasets scatters of the setting's 2-D projections (fine-tuned, all windows;
  frozen where a model has no fine-tuned cell), read from each run's projections/ folder."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  found = {}
  for m in models:
    for d in datasets:
      for regime in ("finetuned", "frozen"):
        cell = table.get((m, d, regime, "all", setting))
        if not cell:
          continue
        row = cell["nmi"].rows[0]
        path = os.path.join(row["_root"], "projections", f"{row['cell_key']}-{row['eval_key']}.npz")
        if os.path.exists(path):
          with np.load(path) as z:
            if setting.reducer in z:
              found[(m, d)] = (z[setting.reducer], z["labels"], regime)
              break
  if not found:
    return None
  rows = [m for m in models if any((m, d) in found for d in datasets)]
  cols = [d for d in datasets if any((m, d) in found for m in models)]
  fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.6 * len(cols), 1.6 * len(rows)),
                           squeeze=False)
  try:
    for i, m in enumerate(rows):
      for j, d in enumerate(cols):
        ax = axes[i][j]
        ax.set_xticks([])
        ax.set_yticks([])
        if (m, d) in found:
          xy, labels, regime = found[(m, d)]
          background = labels == 0
          ax.scatter(*xy[background].T, s=1, color=(0.6, 0.6, 0.6, 0.4), linewidths=0)
          ax.scatter(*xy[~background].T, s=1, c=labels[~background], cmap="tab20",
                     linewidths=0)
          if regime != "finetuned":
            ax.set_title("frozen", fontsize=5)
        if i == 0:
          ax.set_xlabel(d, fontsize=6)
          ax.xaxis.set_label_position("top")
        if j == 0:
          ax.set_ylabel(m, fontsize=6)
    fig.suptitle(f"{setting.title}, fine-tuned (label 0 in grey)", fontsize=8)
    fig.savefig(out_png, bbox_inches="tight", dpi=100)
  finally:
    plt.close(fig)
  return out_png
