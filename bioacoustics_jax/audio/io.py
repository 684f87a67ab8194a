"""Reading audio files: one place that turns a path into a clean float32 mono waveform.

Every loader in the suite (tfds builders, baselines, notebooks) goes through `load_audio`, so bad
files fail the same way everywhere: an `AudioError` that names the file, says what is wrong and
what to do about it. Builders catch `AudioError` (and only that) when `skip_bad_audio=True`.
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np
import soundfile as sf
from scipy import signal

_log = logging.getLogger(__name__)


class AudioError(ValueError):
  """A file that cannot become a clean waveform. `str(err)` names the file, the reason, the fix."""

  def __init__(self, path: str, reason: str, fix: str):
    self.path = os.fspath(path)
    self.reason = reason
    self.fix = fix
    super().__init__(f"{self.path}: {reason}. Fix: {fix}")

  def __reduce__(self):
    # Rebuild from the three fields, so the error survives pickling (worker processes).
    return (type(self), (self.path, self.reason, self.fix))


def resample(x: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
  """Resamples along the last axis by the exact rational ratio to_sr/from_sr (polyphase filter).

  resample_poly (not FFT resampling) because it is exact for any integer pair of rates, has no
  wrap-around at the edges of a clip and is fast for the large ratios bats data needs (250k->16k).
  The output has ceil(n * to_sr / from_sr) samples.
  """
  from_sr, to_sr = int(from_sr), int(to_sr)
  if from_sr <= 0 or to_sr <= 0:
    raise ValueError(f"sample rates must be positive, got {from_sr} -> {to_sr}")
  x = np.asarray(x, dtype=np.float32)
  if from_sr == to_sr:
    return x
  g = math.gcd(from_sr, to_sr)
  up, down = to_sr // g, from_sr // g
  return signal.resample_poly(x, up, down, axis=-1).astype(np.float32)


def load_audio(
    path: str,
    *,
    expected_sample_rate: int | None = None,
    target_sample_rate: int | None = None,
    downmix: bool = True,
) -> tuple[np.ndarray, int]:
  """Loads `path` as a float32 mono waveform in [-1, 1] and returns `(waveform, sample_rate)`.

  Args:
    path: an audio file soundfile can read (wav, flac, ogg, ...).
    expected_sample_rate: if set, the file MUST have this rate; anything else is an AudioError.
      Use it where silently resampling would hide a data problem.
    target_sample_rate: if set, a file at another rate is resampled to it (BEANS does this for
      every dataset); the returned rate is then `target_sample_rate`.
    downmix: multi-channel files are averaged to mono (as BEANS does) with a logged note; with
      `downmix=False` they are an AudioError instead.

  Raises:
    AudioError: missing, empty, unreadable or corrupt file, no samples, NaN/inf samples,
      multi-channel audio with downmix=False, or a rate other than `expected_sample_rate`.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise AudioError(path, "file does not exist",
                     "check the path in the annotation file (relative paths are resolved against "
                     "the dataset folder and its parent) or regenerate/re-download the data")
  if os.path.isdir(path):
    raise AudioError(path, "is a directory, not an audio file", "point to a file")
  if os.path.getsize(path) == 0:
    raise AudioError(path, "file is empty (0 bytes)",
                     "re-download or regenerate it, or pass skip_bad_audio=True to skip it")
  try:
    # always_2d gives one code path for mono and multi-channel files.
    data, sr = sf.read(path, dtype="float32", always_2d=True)
  except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
    raise AudioError(path, f"unreadable or corrupt audio ({e})",
                     "re-download or regenerate it, or pass skip_bad_audio=True to skip it") from e
  if data.shape[0] == 0:
    raise AudioError(path, "audio has no samples",
                     "re-download or regenerate it, or pass skip_bad_audio=True to skip it")
  if not np.all(np.isfinite(data)):
    bad = int(np.sum(~np.isfinite(data)))
    raise AudioError(path, f"{bad} NaN/inf samples",
                     "fix or remove the file, or pass skip_bad_audio=True to skip it")
  channels = data.shape[1]
  if channels > 1:
    if not downmix:
      raise AudioError(path, f"{channels} channels where mono audio is required",
                       "convert it to mono, or allow downmixing (downmix=True)")
    _log.info("%s: %d channels, averaged to mono", path, channels)
  wav = data.mean(axis=1) if channels > 1 else data[:, 0]
  if expected_sample_rate is not None and sr != int(expected_sample_rate):
    raise AudioError(path, f"sample rate is {sr} Hz, expected {int(expected_sample_rate)} Hz",
                     f"resample the file to {int(expected_sample_rate)} Hz, or allow resampling "
                     "(target_sample_rate / resample_mismatched=True)")
  if target_sample_rate is not None and sr != int(target_sample_rate):
    wav = resample(wav, sr, int(target_sample_rate))
    sr = int(target_sample_rate)
  return np.ascontiguousarray(wav, dtype=np.float32), int(sr)


def fit_length(x: np.ndarray, num_samples: int) -> np.ndarray:
  """Crops or zero-pads the last axis to exactly `num_samples` (BEANS crops the end, pads zeros)."""
  n = x.shape[-1]
  if n >= num_samples:
    return x[..., :num_samples]
  pad = [(0, 0)] * (x.ndim - 1) + [(0, num_samples - n)]
  return np.pad(x, pad)


def write_wav(path: str, waveform: np.ndarray, sample_rate: int) -> None:
  """Writes mono 16-bit PCM (the BEANS format); values are clipped to [-1, 1] first."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  x = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
  sf.write(path, x, int(sample_rate), subtype="PCM_16", format="WAV")
