"""Scatter plots of 2-D projections (UMAP / t-SNE / PCA), one PNG per embedding set."""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and TPU VMs
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bioacoustics_jax import paths  # noqa: E402

# Past this many classes (CBI has 264) a legend hides the plot; the title gives the count instead.
MAX_LEGEND_ENTRIES = 30


def scatter(projection: np.ndarray, labels: np.ndarray, label_names: Sequence[str], title: str,
            out_png: str, point_size: float | None = None) -> str:
  """Writes a scatter of `projection` [N, 2] coloured by `labels` to `out_png`; returns the path.

  A class named "background" (detection sets) is drawn first, in grey, so calls stay visible.
  """
  projection = np.asarray(projection)
  labels = np.asarray(labels)
  if projection.ndim != 2 or projection.shape[1] != 2 or len(projection) != len(labels):
    raise ValueError(f"scatter needs projection [N, 2] and labels [N]; got {projection.shape} and "
                     f"{labels.shape} for {out_png}")
  if point_size is None:  # big dots for a few dozen points, small ones for tens of thousands
    point_size = float(np.clip(2000.0 / max(1, len(labels)), 4.0, 40.0))
  classes = np.unique(labels)
  names = {c: (label_names[c] if 0 <= c < len(label_names) else str(c)) for c in classes}
  order = sorted(classes, key=lambda c: names[c] != "background")
  # Distinct qualitative colours while they last (tab20 pairs light/dark shades, so tab10
  # first); a continuous map beyond 20 classes.
  palette = "tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else None
  cmap = plt.get_cmap(palette or "gist_ncar")
  fig, ax = plt.subplots(figsize=(7, 5.5), dpi=110)
  try:
    colour_index = 0
    for c in order:
      mask = labels == c
      if names[c] == "background":
        colour = (0.6, 0.6, 0.6, 0.5)
      else:
        colour = (cmap(colour_index) if palette
                  else cmap(colour_index / max(1, len(classes) - 1)))
        colour_index += 1
      ax.scatter(projection[mask, 0], projection[mask, 1], s=point_size, color=colour,
                 label=f"{names[c]} ({mask.sum()})", linewidths=0)
    if len(classes) <= MAX_LEGEND_ENTRIES:
      ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=2,
                frameon=False, ncol=1 if len(classes) <= 15 else 2)
    ax.set_title(f"{title}  (N={len(labels)}, {len(classes)} classes)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    paths.write_bytes(out_png, buffer.getvalue())  # local or a URI
  finally:
    plt.close(fig)  # sweeps draw hundreds of figures; keep memory flat
  return out_png
