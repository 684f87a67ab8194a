"""The paper grid's rows: results.csv files -> one score per (model, dataset, regime, background,
reducer setting); a setting's `paper_key` looks up the paper's numbers (report/reference.py).

Shared by document.py (tables, figures) and claims.py (the three claims). A
reducer setting is read from the row's own columns (reducer + its parameters), so any results
file, from one run or gathered from a sweep, groups the same way. Several rows of one cell and
setting (other eval seeds) are averaged, and their spread is kept: the seed-noise tolerance
is measured, never assumed; a cell of one row keeps that row's own spread over its
`evaluate.seeds` (`<metric>_sd`, `n_seeds`). A row that cannot be scored (degenerate split)
stays NaN, and a missing number is "n/a", never 0.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
from typing import Any, Iterable, Sequence

import numpy as np

from bioacoustics_jax.results import store as results_lib

METRICS = ("nmi", "ari", "silhouette")


@dataclasses.dataclass(frozen=True, order=True)
class Setting:
  """One reducer setting of the grid: ("umap", 50, 0.5), ("tsne", 25.0), ("pca", 50, 0.5)..."""

  reducer: str
  params: tuple

  @property
  def title(self) -> str:
    if self.reducer == "tsne":
      return f"t-SNE (perplexity {self.params[0]:g})"
    if self.reducer == "umap":
      return f"UMAP (n_neighbors {self.params[0]}, min_dist {self.params[1]:g})"
    if self.reducer == "pca" and self.params:
      return (f"PCA, in the grid slot of UMAP ({self.params[0]}, {self.params[1]:g}) "
              "(smoke grid: PCA stands in for UMAP)")
    return self.reducer

  @property
  def paper_key(self) -> tuple[int, float] | None:
    """(n_neighbors, min_dist) of the paper's reference rows, for UMAP settings only."""
    return (int(self.params[0]), float(self.params[1])) if self.reducer == "umap" else None


def setting_of(row: dict[str, Any]) -> Setting:
  if row["reducer"] == "tsne":
    return Setting("tsne", (float(row["tsne_perplexity"]),))
  if row["reducer"] in ("umap", "pca"):
    return Setting(row["reducer"], (int(row["umap_n_neighbors"]), float(row["umap_min_dist"])))
  return Setting(row["reducer"], ())


@dataclasses.dataclass
class Score:
  """A cell's score under one setting: the mean over eval seeds, their std (NaN for one seed),
  and the rows it came from (for the embedding and projection files, and the paired tests). A
  cell of one row: the row's mean, sd and number of seeds (evaluate.seeds)."""

  mean: float
  std: float
  seeds: int
  rows: list[dict]


CellId = tuple[str, str, str, str, Setting]  # model, dataset, regime, background, setting


def read_rows(results_csvs: Sequence[str]) -> list[dict]:
  """Rows of every results.csv, each tagged with `_root` (its folder: where that run's
  embeddings/ and projections/ are)."""
  out = []
  for path in results_csvs:
    if not os.path.exists(path):
      raise FileNotFoundError(f"No results file at {path}.")
    root = os.path.dirname(os.path.abspath(path))
    out += [dict(r, _root=root) for r in results_lib.read_results(path)]
  return out


def scores(rows: Iterable[dict], clusterer: str = "kmeans", split: str = "test"
           ) -> dict[CellId, dict[str, Score]]:
  """{(model, dataset, regime, background, setting): {metric: Score}} over k-means rows."""
  by_seed: dict[tuple, dict[int, dict]] = collections.defaultdict(dict)
  for r in rows:
    if r["clusterer"] != clusterer or r["split"] != split:
      continue
    cell = (r["model"], r["dataset"], r["regime"], r.get("background") or "all", setting_of(r))
    by_seed[cell][int(r["eval_seed"])] = r  # a later row of the same seed replaces an earlier
  out = {}
  for cell, seeded in by_seed.items():
    picked = [seeded[s] for s in sorted(seeded)]
    out[cell] = {}
    for metric in METRICS:
      values = np.array([float(r[metric]) for r in picked], np.float64)
      finite = values[np.isfinite(values)]
      mean = float(finite.mean()) if len(finite) else math.nan
      std = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
      seeds = len(finite)
      if len(picked) == 1 and len(finite) == 1:  # one row: its own seeds' spread
        std = float(picked[0].get(f"{metric}_sd", math.nan))
        seeds = int(picked[0].get("n_seeds") or 1)
      out[cell][metric] = Score(mean, std, seeds, picked)
  return out
