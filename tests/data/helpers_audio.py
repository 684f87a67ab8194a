"""Small writers for data tests: good and deliberately bad audio files, dataset folders."""

import csv
import json
import os

import numpy as np
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io


def tone(sr, seconds, freq=440.0, seed=0):
  t = np.arange(int(round(sr * seconds))) / sr
  noise = np.random.default_rng(seed).normal(0, 0.01, len(t))
  return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write_bad(path, kind, sr):
  """A file that is bad in one way (`kind`); 'missing' writes nothing."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if kind == "corrupt":
    with open(path, "wb") as f:
      f.write(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 4)
  elif kind == "empty":
    open(path, "wb").close()
  elif kind == "nan":
    x = tone(sr, 0.2)
    x[5] = np.nan
    sf.write(path, x, sr, subtype="FLOAT")
  elif kind == "stereo":
    sf.write(path, np.stack([tone(sr, 0.2)] * 2, axis=1), sr, subtype="PCM_16")
  elif kind == "wrong_rate":
    audio_io.write_wav(path, tone(sr * 2, 0.2), sr * 2)
  elif kind != "missing":
    raise ValueError(kind)


def classification_folder(root, name, rows_per_split, *, sr=8000, clip=0.25, classes=("a", "b")):
  """A dataset.json classification set; rows_per_split: split -> [(rel_path, label)]."""
  folder = os.path.join(root, name)
  os.makedirs(folder, exist_ok=True)
  for split, rows in rows_per_split.items():
    with open(os.path.join(folder, f"annotations.{split}.csv"), "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(["path", "label"])
      w.writerows(rows)
  with open(os.path.join(folder, "dataset.json"), "w") as f:
    json.dump({"name": name, "task": "classification", "sample_rate": sr, "clip_seconds": clip,
               "class_names": list(classes),
               "splits": {s: f"annotations.{s}.csv" for s in rows_per_split}}, f)
  return folder
