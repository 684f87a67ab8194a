"""tfds builder for BEANS-format classification sets: `annotations.<split>.csv` with `path,label`.

Reads real BEANS folders and the synthetic suite alike. One example per csv row: the clip at the
dataset rate, cropped or zero-padded to clip_seconds (as BEANS does), its class index and its
path as id.
"""

from __future__ import annotations

from typing import Any, Iterator

import tensorflow_datasets as tfds

from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data.builders import base


class BeansClassification(base.AudioBuilderBase):
  """Clips + class labels from a csv per split (columns `path,label`; extra columns ignored)."""

  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.2.0": "labels that differ only in case or leading zeros are one class (rule 'merge'; "
               "'exact' keeps them apart).",
      "1.1.0": "labels canonical (stripped, NFC, 2.0 == 2); float audio beyond [-1, 1] "
               "peak-normalised, not clipped; input-check warnings in the metadata.",
      "1.0.0": "int16 clips at the dataset rate, class index, path as id."}

  def _label_feature(self):
    return tfds.features.ClassLabel(names=list(self.source.info.class_names))

  @classmethod
  def split_labels(cls, path: str) -> list[str]:
    return catalog.read_annotation_labels(path, "classification")

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    rows = annotations.read_rows(path, ("path", "label"))
    for row_number, row in enumerate(rows, start=2):  # row 1 is the header
      where = f"{path}:{row_number}"
      if not row["path"].strip():
        raise ValueError(f"{where}: empty path; fill it in or delete the row")
      label = self.class_index(row["label"], where)
      full = self.source.resolve_audio_path(row["path"].strip())
      wav = self.load(full, split)
      if wav is None:
        continue
      for start, clip in self.clips(wav, full, split):
        clip_id = row["path"] if start == 0 else f"{row['path']}@{start:.3f}"
        yield f"{row_number}:{clip_id}", {"audio": clip, "label": label, "id": clip_id}
