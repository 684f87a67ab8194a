"""matplotlib images for report.html, as inline data URIs: scatter panels and fine-tuning curves.

report/html/document.py asks for them; each scatter panel also returns where its points landed, as
fractions of the image, so the page's script can find the point under the pointer without a
plotting library in the browser. Every panel of one cell has the same size, axes box and limits,
so one list of positions serves the true-label panel and each predicted-cluster panel.
"""

from __future__ import annotations

import base64
import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and TPU VMs
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

GREY = (0.62, 0.62, 0.62, 0.55)
# 286 px images, shown 230 px wide (document.py): sharp on dense screens, three per cell.
PANEL_INCHES, PANEL_DPI = 2.6, 110
_AXES_BOX = (0.06, 0.05, 0.91, 0.84)  # left, bottom, width, height (room for title + labels)


def palette(names: Sequence[str]) -> list[tuple[float, float, float, float]]:
  """A colour per name: qualitative while they last, a continuous map beyond 20; "background"
  and HDBSCAN's noise ("-1") grey, so calls and clusters stay visible."""
  keyed = [n for n in names if n not in ("background", "-1")]
  cmap = plt.get_cmap("tab10" if len(keyed) <= 10 else "tab20" if len(keyed) <= 20
                      else "gist_ncar")
  colours, index = [], 0
  for name in names:
    if name in ("background", "-1"):
      colours.append(GREY)
      continue
    colours.append(cmap(index) if len(keyed) <= 20 else cmap(index / max(1, len(keyed) - 1)))
    index += 1
  return colours


def cluster_palette(labels: np.ndarray, clusters: np.ndarray, class_colours: Sequence
                    ) -> dict[int, tuple]:
  """{cluster: colour}: each cluster matched one-to-one to a class (Hungarian, on overlap) wears
  that class's colour, so a clustering that finds the classes looks like the true-label panel;
  unmatched clusters get a second palette, HDBSCAN's noise (-1) grey."""
  from scipy.optimize import linear_sum_assignment  # pylint: disable=g-import-not-at-top
  ids = [c for c in sorted(set(clusters.tolist())) if c != -1]
  classes = sorted(set(labels.tolist()))
  table = np.zeros((len(ids), len(classes)))
  for i, c in enumerate(ids):
    for j, k in enumerate(classes):
      table[i, j] = np.sum((clusters == c) & (labels == k))
  out: dict[int, tuple] = {-1: GREY}
  rows, cols = linear_sum_assignment(table, maximize=True) if ids else ((), ())
  for i, j in zip(rows, cols):
    if table[i, j] > 0:
      out[ids[i]] = tuple(class_colours[classes[j]])
  extra = plt.get_cmap("Dark2")
  for n, c in enumerate(c for c in ids if c not in out):
    out[c] = extra(n % 8)
  return out


def hex_colour(rgba) -> str:
  return "#" + "".join(f"{int(round(c * 255)):02x}" for c in rgba[:3])


def _data_uri(fig) -> str:
  """The figure as an inline PNG with a 128-colour palette: ~4x smaller than matplotlib's RGBA
  (64 kB -> 15 kB a panel) with no visible change to flat-coloured dots and lines."""
  from PIL import Image  # pylint: disable=g-import-not-at-top  (matplotlib's own dependency)
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=fig.dpi)  # no bbox "tight": it would move the axes
  buffer.seek(0)
  small = io.BytesIO()
  Image.open(buffer).convert("RGB").quantize(128).save(small, format="PNG", optimize=True)
  return "data:image/png;base64," + base64.b64encode(small.getvalue()).decode("ascii")


def limits(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
  """Axis limits with a 4% margin (shared by every panel of a cell)."""
  low, high = xy.min(0), xy.max(0)
  pad = np.maximum((high - low) * 0.04, 1e-6)
  return (float(low[0] - pad[0]), float(high[0] + pad[0])), (float(low[1] - pad[1]),
                                                             float(high[1] + pad[1]))


def scatter_panel(xy: np.ndarray, groups: np.ndarray, colours: Sequence, title: str,
                  axis_name: str, lims) -> tuple[str, np.ndarray]:
  """One scatter (points coloured by `colours[groups]`); returns (data URI, [N, 2] positions as
  fractions of the image width/height, origin top-left)."""
  fig = plt.figure(figsize=(PANEL_INCHES, PANEL_INCHES), dpi=PANEL_DPI)
  try:
    ax = fig.add_axes(_AXES_BOX)
    size = float(np.clip(1500.0 / max(1, len(xy)), 3.0, 30.0))
    rgba = np.asarray([colours[g] for g in groups]) if len(xy) else np.zeros((0, 4))
    # Grey (background / noise) first, so coloured points are drawn over them.
    order = np.argsort([0 if tuple(c) == GREY else 1 for c in map(tuple, rgba)], kind="stable")
    ax.scatter(xy[order, 0], xy[order, 1], s=size, c=rgba[order], linewidths=0)
    ax.set_xlim(*lims[0])
    ax.set_ylim(*lims[1])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{axis_name} 1", fontsize=8, labelpad=1)
    ax.set_ylabel(f"{axis_name} 2", fontsize=8, labelpad=1)
    ax.set_title(title, fontsize=9)
    width, height = fig.canvas.get_width_height()
    pixels = ax.transData.transform(xy) if len(xy) else np.zeros((0, 2))
    positions = np.stack([pixels[:, 0] / width, 1.0 - pixels[:, 1] / height], axis=1)
    return _data_uri(fig), positions
  finally:
    plt.close(fig)  # a sweep draws hundreds of panels; keep memory flat


def curves_panel(series: dict[str, dict[str, tuple[list[float], list[float]]]], title: str,
                 best: tuple[str, float] | None = None) -> str:
  """Fine-tuning curves: one axes per metric ("train/loss", "valid/accuracy", ...), one line per
  learning rate; `best` = (metric, step) marks the chosen checkpoint."""
  metrics = sorted({m for per_lr in series.values() for m in per_lr})
  fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(3.2 * max(1, len(metrics)), 2.5),
                           dpi=PANEL_DPI, squeeze=False)
  try:
    for ax, metric in zip(axes[0], metrics):
      for lr, per_metric in sorted(series.items()):
        if metric in per_metric:
          steps, values = per_metric[metric]
          ax.plot(steps, values, marker="o" if len(steps) < 30 else None, ms=3, lw=1.2,
                  label=f"lr {lr}")
      if best and best[0] == metric:
        ax.axvline(best[1], color="k", lw=0.8, ls="--")
      ax.set_title(metric, fontsize=9)
      ax.set_xlabel("step", fontsize=8)
      ax.tick_params(labelsize=7)
      ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _data_uri(fig)
  finally:
    plt.close(fig)
