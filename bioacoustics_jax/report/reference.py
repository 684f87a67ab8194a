"""The paper's reference numbers (its saved notebooks' UMAP + k-means scores on fine-tuned
embeddings), read once for every report: report.md and report.html (one row per run of ours,
compared under that row's own UMAP setting) and paper_report.md (the whole grid).

The csv: `n_neighbors,min_dist,model_folder,metric,<dataset>...`, one row per UMAP setting x
model folder (`npy_<model>`, the paper's model names) x metric (ARI, NMI, Sil). An empty cell
is a number the paper does not give: it reads as missing (NaN, shown "n/a"), never 0. A metric
name outside ARI/NMI/Sil is an error naming the file and line.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import importlib.resources
import math
import os

# Shipped as package data.
PAPER_SCORES = str(importlib.resources.files("bioacoustics_jax.report")
                   / "paper_umap_kmeans_scores.csv")
METRICS = {"NMI": "nmi", "ARI": "ari", "Sil": "silhouette"}  # csv name -> results.csv column
_KEYS = ("n_neighbors", "min_dist", "model_folder", "metric")

UmapKey = tuple[int, float]  # (n_neighbors, min_dist)


@dataclasses.dataclass
class Reference:
  """{(n_neighbors, min_dist): {(model, dataset, metric): value}}, and the reference's own model
  and dataset names (in file order), so a report can list those that match nothing of ours."""

  values: dict[UmapKey, dict[tuple[str, str, str], float]]
  models: list[str]
  datasets: list[str]
  path: str

  def get(self, umap: UmapKey | None, model: str, dataset: str, metric: str) -> float:
    """The paper's number, NaN when it has none (or `umap` is None: not a UMAP setting)."""
    if umap is None:
      return math.nan
    key = (int(umap[0]), float(umap[1]))
    return self.values.get(key, {}).get((model, dataset, metric), math.nan)

  def names(self, model: str, dataset: str) -> bool:
    """Whether the reference has a row and a column for this model and dataset."""
    return model in self.models and dataset in self.datasets


def umap_key(row: dict) -> UmapKey | None:
  """(n_neighbors, min_dist) of a results row when its reducer is UMAP, else None."""
  if row.get("reducer") != "umap":
    return None
  return int(row["umap_n_neighbors"]), float(row["umap_min_dist"])


def paper_rows(rows: list[dict], reference: Reference
               ) -> list[tuple[dict, dict[str, float]]]:
  """Our rows that the paper's reference covers (fine-tuned, UMAP + k-means, a model and dataset
  the reference names), each with the paper's numbers for that row's own UMAP setting:
  {metric: value, NaN where the reference has no number}. Shared by report.md and report.html."""
  out = []
  for r in rows:
    umap = umap_key(r)
    if (umap is None or r["regime"] != "finetuned" or r["clusterer"] != "kmeans"
        or not reference.names(r["model"], r["dataset"])):
      continue
    out.append((r, {m: reference.get(umap, r["model"], r["dataset"], m)
                    for m in sorted(METRICS.values())}))
  return out


def read_reference(path: str = PAPER_SCORES) -> Reference:
  if not os.path.exists(path):
    raise FileNotFoundError(f"No paper reference csv at {path}; the package ships one at "
                            f"{PAPER_SCORES}.")
  values: dict = collections.defaultdict(dict)
  models: list[str] = []
  with open(path, newline="") as f:
    reader = csv.DictReader(f)
    fields = list(reader.fieldnames or ())
    missing = [k for k in _KEYS if k not in fields]
    if missing:
      raise ValueError(f"{path} lacks columns {missing}; expected "
                       "n_neighbors,min_dist,model_folder,metric,<datasets...>.")
    datasets = [c for c in fields if c not in _KEYS]
    for n, row in enumerate(reader, start=2):
      metric = METRICS.get(row["metric"])
      if metric is None:
        raise ValueError(f"{path}:{n}: metric {row['metric']!r} is not one of "
                         f"{sorted(METRICS)}")
      model = row["model_folder"].removeprefix("npy_")
      if model not in models:
        models.append(model)
      try:
        key = (int(row["n_neighbors"]), float(row["min_dist"]))
      except ValueError as e:
        raise ValueError(f"{path}:{n}: n_neighbors / min_dist must be numbers ({e})") from e
      for dataset in datasets:
        text = (row[dataset] or "").strip()
        if text:
          try:
            values[key][(model, dataset, metric)] = float(text)
          except ValueError as e:
            raise ValueError(f"{path}:{n}: column {dataset}: {text!r} is not a number "
                             "(leave the cell empty for a number the paper lacks)") from e
  return Reference(dict(values), models, datasets, path)
