"""tfds builder for a user's own labelled audio: one sub-folder per label, or a csv.

Each split in the source (dataset.json `"splits"`, default `train/`, `valid/`, `test/`) is either
- a folder whose sub-folders are the labels: `<split>/<label>/*.wav` (names starting with `_` or
  `.` are ignored, so the `_tfds` cache can live inside the folder), or
- a csv file with columns `path,label` (paths relative to the csv's folder or the dataset folder).
Examples are clips cropped or zero-padded to clip_seconds, like beans_classification.
"""

from __future__ import annotations

import csv
import os
from typing import Any, Iterator

import tensorflow_datasets as tfds

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data.builders import base

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


def _visible(name: str) -> bool:
  return not name.startswith(("_", "."))


def list_split(split_path: str) -> list[tuple[str, str]]:
  """(audio path, label) pairs of one split, sorted so the order never depends on the OS."""
  if os.path.isdir(split_path):
    pairs = []
    for label in sorted(filter(_visible, os.listdir(split_path))):
      label_dir = os.path.join(split_path, label)
      if not os.path.isdir(label_dir):
        continue
      for root, dirs, files in os.walk(label_dir):
        dirs[:] = sorted(filter(_visible, dirs))
        pairs += [(os.path.join(root, f), label) for f in sorted(files)
                  if _visible(f) and f.lower().endswith(AUDIO_EXTENSIONS)]
    if not pairs:
      raise ValueError(f"{split_path}: no audio files in label sub-folders (expected "
                       f"{split_path}/<label>/*.wav)")
    return pairs
  if os.path.isfile(split_path):
    with open(split_path, newline="") as f:
      reader = csv.DictReader(f)
      if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
        raise ValueError(f"{split_path}: needs csv columns `path,label`, has {reader.fieldnames}")
      return [(r["path"], str(r["label"])) for r in reader]
  raise FileNotFoundError(f"{split_path}: split not found; create {split_path}/<label>/*.wav or "
                          f"a csv with columns path,label, or list the splits in dataset.json")


def discover_class_names(split_files: dict[str, str]) -> list[str]:
  """Sorted union of the labels over all existing splits."""
  labels = set()
  for p in split_files.values():
    if os.path.exists(p):
      labels.update(label for _, label in list_split(p))
  if not labels:
    raise ValueError(f"no labelled audio in any of {sorted(split_files.values())}")
  return sorted(labels)


class AudioFolder(base.AudioBuilderBase):
  """Clips + class labels from label sub-folders or a `path,label` csv per split."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "int16 clips at the dataset rate, class index, file path as id."}

  def _label_feature(self):
    return tfds.features.ClassLabel(names=list(self.source.info.class_names))

  def _split_generators(self, dl_manager):
    del dl_manager
    # Splits absent on disk are simply not offered (a folder may have only train/ and test/).
    return {split: self._generate_examples(split=split, path=path)
            for split, path in self.source.split_files.items() if os.path.exists(path)}

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    n = self.source.info.num_samples()
    base_dir = path if os.path.isdir(path) else os.path.dirname(path)
    for i, (audio_path, label) in enumerate(list_split(path)):
      full = audio_path if os.path.isabs(audio_path) else os.path.join(base_dir, audio_path)
      if not os.path.exists(full):
        full = self.source.resolve_audio_path(audio_path)
      index = self.class_index(label, f"{path} ({audio_path})")
      wav = self.load(full, split)
      if wav is None:
        continue
      rel = os.path.relpath(full, self.source.root)
      yield f"{i}:{rel}", {"audio": base.to_int16(audio_io.fit_length(wav, n)),
                           "label": index, "id": rel}
