"""The classes a split's annotations name, read without preparing the split: a frozen run
prepares only the split it embeds, and still notes test classes absent from train."""

from __future__ import annotations

from typing import Any

from bioacoustics_jax.data import builders
from bioacoustics_jax.data import sources
from bioacoustics_jax.data.builders import base


def annotated_classes(dataset: str, split: str, *, data_root: str, **source_options: Any
                      ) -> set[int]:
  """Class indices that the annotations of a classification `split` name, read from its
  annotation file or folder without preparing it (no audio is read, so files that preparation
  would skip as bad audio still count). `source_options`: sources.resolve_source's.

  Raises:
    ValueError: a detection dataset, or a split the dataset does not have.
  """
  source = sources.resolve_source(dataset, data_root=data_root, **source_options)
  offered = builders.BUILDERS[source.format].offered_splits(source)
  if split not in offered:
    raise ValueError(f"dataset {dataset!r} has no split {split!r}; it has {sorted(offered)}")
  if source.info.task != "classification":
    raise ValueError(f"{dataset} is a {source.info.task} set: its clips have no single class")
  read = builders.BUILDERS[source.format].split_labels
  return {base.class_index(source, label, f"{offered[split]} ({label!r})")
          for label in read(offered[split])}
