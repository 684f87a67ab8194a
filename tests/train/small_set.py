"""A small 3-species set shaped like the issue-10 case (22 train / 11 valid clips, 1.5 s,
majority class 5/11 = 0.455 of validation), cut from the synthetic birds in BEANS format."""

from __future__ import annotations

import csv
import json
import os

from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import synthetic

SPECIES = ("upsweep", "hoot", "slowtrill")
COUNTS = {"train": (10, 6, 6), "valid": (5, 3, 3), "test": (10, 6, 7)}


def write(root: str, name: str = "three_species") -> str:
  """Writes `<root>/<name>/` (idempotent) and returns its dataset name for open_split."""
  suite = os.path.join(root, "_suite")
  biggest = max(max(c) for c in COUNTS.values())
  synthetic.write_suite(suite, size=synthetic.SuiteSize(
      clips_per_class=(biggest, biggest, biggest), clip_scale=0.75), names=["synth_birds"])
  source = os.path.join(suite, "synth_birds")
  folder = os.path.join(root, name)
  os.makedirs(folder, exist_ok=True)
  meta = json.load(open(os.path.join(source, "dataset.json")))
  splits = {}
  for split, counts in COUNTS.items():
    with open(os.path.join(source, f"annotations.{split}.csv")) as f:
      rows = list(csv.DictReader(f))
    keep = []
    for species, n in zip(SPECIES, counts):
      keep += [r for r in rows if r["label"] == species][:n]
    splits[split] = f"annotations.{split}.csv"
    with open(os.path.join(folder, splits[split]), "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=["path", "label"])
      writer.writeheader()
      for r in keep:
        writer.writerow({"path": os.path.join(source, r["path"]), "label": r["label"]})
  with open(os.path.join(folder, "dataset.json"), "w") as f:
    json.dump({"name": name, "task": "classification", "format": "beans_classification",
               "sample_rate": meta["sample_rate"], "clip_seconds": meta["clip_seconds"],
               "class_names": list(SPECIES), "splits": splits}, f, indent=1)
  return name


def splits(root: str) -> list[pipeline.SplitData]:
  name = write(root)
  return [pipeline.open_split(name, s, data_root=root) for s in ("train", "valid", "test")]
