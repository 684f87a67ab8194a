"""tfds builder for a user's own labelled audio: one sub-folder per label, or a csv.

Each split in the source (dataset.json `"splits"`, default `train/`, `valid/`, `test/`) is either
- a folder whose sub-folders are the labels: `<split>/<label>/*.wav` (names starting with `_` or
  `.` are ignored, so the `_tfds` cache can live inside the folder), or
- a csv file with columns `path,label` (paths relative to the csv's folder or the dataset folder).
Listing a split and finding the class names is catalog.py's (`list_split`), which this imports.
Examples are clips cropped or zero-padded to clip_seconds, like beans_classification.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import tensorflow_datasets as tfds

from bioacoustics_jax.data import catalog
from bioacoustics_jax.data.builders import base

class AudioFolder(base.AudioBuilderBase):
  """Clips + class labels from label sub-folders or a `path,label` csv per split."""

  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.2.0": "labels that differ only in case or leading zeros are one class (rule 'merge'; "
               "'exact' keeps them apart).",
      "1.1.0": "labels canonical (stripped, NFC, 2.0 == 2); float audio beyond [-1, 1] "
               "peak-normalised, not clipped; input-check warnings in the metadata.",
      "1.0.0": "int16 clips at the dataset rate, class index, file path as id."}

  def _label_feature(self):
    return tfds.features.ClassLabel(names=list(self.source.info.class_names))

  @classmethod
  def offered_splits(cls, source: catalog.DatasetSource) -> dict[str, str]:
    # Splits absent on disk are simply not offered (a folder may have only train/ and test/).
    return {split: path for split, path in source.split_files.items() if os.path.exists(path)}

  @classmethod
  def split_labels(cls, path: str) -> list[str]:
    return [label for _, label in catalog.list_split(path)]

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    base_dir = path if os.path.isdir(path) else os.path.dirname(path)
    for i, (audio_path, label) in enumerate(catalog.list_split(path)):
      full = audio_path if os.path.isabs(audio_path) else os.path.join(base_dir, audio_path)
      if not os.path.exists(full):
        full = self.source.resolve_audio_path(audio_path)
      index = self.class_index(label, f"{path} ({audio_path})")
      wav = self.load(full, split)
      if wav is None:
        continue
      rel = os.path.relpath(full, self.source.root)
      for start, clip in self.clips(wav, full, split):
        clip_id = rel if start == 0 else f"{rel}@{start:.3f}"
        yield f"{i}:{clip_id}", {"audio": clip, "label": index, "id": clip_id}
