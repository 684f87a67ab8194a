"""tfds builder for BEANS-format detection sets: `<split>.jsonl`, one recording per line.

Each line is `{"path", "length", "annotations": [{"st", "ed", "label"}]}`. Windows are cut at build
time (windows.py: window/shift from the dataset, BEANS' overlap > 0.2 rule), one example per
window: the window's audio, a multi-hot label (all zeros = background) and `path@start` as id.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import windows
from bioacoustics_jax.data.builders import base


class BeansDetection(base.AudioBuilderBase):
  """Windows of long recordings with multi-hot labels from a jsonl per split."""

  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.2.0": "labels that differ only in case or leading zeros are one class (rule 'merge'; "
               "'exact' keeps them apart).",
      "1.1.0": "labels canonical (stripped, NFC, 2.0 == 2); float audio beyond [-1, 1] "
               "peak-normalised, not clipped; input-check warnings in the metadata.",
      "1.0.0": "int16 windows, multi-hot float32 labels, path@start ids; windows "
               "cover the whole recording (last one zero-padded)."}

  def _label_feature(self):
    return tfds.features.Tensor(shape=(self.source.info.num_classes,), dtype=np.float32)

  def _records(self, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path) as f:
      for line_number, line in enumerate(f, start=1):
        if not line.strip():
          continue
        where = f"{path}:{line_number}"
        try:
          rec = json.loads(line)
          anns = [(float(a["st"]), float(a["ed"]), str(a["label"]))
                  for a in rec.get("annotations", [])]
          rec["annotations"] = anns
          rec["path"] = str(rec["path"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
          raise ValueError(
              f'{where}: not a BEANS detection record {{"path", "length", "annotations": '
              f'[{{"st", "ed", "label"}}]}} ({e!r}); fix that line') from e
        yield where, rec

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    info = self.source.info
    rate, n = info.sample_rate, info.num_samples()
    for where, rec in self._records(path):
      anns = [(st, ed, self.class_index(lbl, where)) for st, ed, lbl in rec["annotations"]]
      wav = self.load(self.source.resolve_audio_path(rec["path"]), split)
      if wav is None:
        continue
      # The jsonl length is what BEANS windows over; the audio itself is the fallback.
      length = float(rec.get("length") or len(wav) / rate)
      cfg = self.builder_config
      starts = windows.window_starts(length, info.clip_seconds, info.shift_seconds,
                                     rule=cfg.window_rule)
      labels = windows.window_labels(starts, info.clip_seconds, anns, info.num_classes,
                                     tolerance=cfg.overlap_tolerance)
      for start, label in zip(starts, labels):
        i = int(round(start * rate))
        window_id = f"{rec['path']}@{start:.3f}"
        yield window_id, {
            "audio": base.to_int16(audio_io.fit_length(wav[i:i + n], n)),
            "label": label,
            "id": window_id,
        }
