"""tfds builder for BEANS-format classification sets: `annotations.<split>.csv` with `path,label`.

Reads real BEANS folders and the synthetic suite alike. One example per csv row: the clip at the
dataset rate, cropped or zero-padded to clip_seconds (as BEANS does), its class index and its
path as id.
"""

from __future__ import annotations

import csv
from typing import Any, Iterator

import tensorflow_datasets as tfds

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data.builders import base


class BeansClassification(base.AudioBuilderBase):
  """Clips + class labels from a csv per split (columns `path,label`; extra columns ignored)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "int16 clips at the dataset rate, class index, path as id."}

  def _label_feature(self):
    return tfds.features.ClassLabel(names=list(self.source.info.class_names))

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    n = self.source.info.num_samples()
    with open(path, newline="") as f:
      reader = csv.DictReader(f)
      if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
        raise ValueError(f"{path}: needs csv columns `path,label`, has {reader.fieldnames}; "
                         "fix the header (BEANS writes `path,label`)")
      for row_number, row in enumerate(reader, start=2):  # row 1 is the header
        where = f"{path}:{row_number}"
        if not row["path"]:
          raise ValueError(f"{where}: empty path")
        label = self.class_index(row["label"], where)
        wav = self.load(self.source.resolve_audio_path(row["path"]), split)
        if wav is None:
          continue
        yield f"{row_number}:{row['path']}", {
            "audio": base.to_int16(audio_io.fit_length(wav, n)),
            "label": label,
            "id": row["path"],
        }
