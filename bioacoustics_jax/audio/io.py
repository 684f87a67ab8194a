"""Reading audio files: one place that turns a path into a clean float32 mono waveform.

Every loader in the suite (tfds builders, baselines, notebooks) goes through `load_audio`, so bad
files fail the same way everywhere: an `AudioError` that names the file, says what is wrong and
what to do about it. Builders catch `AudioError` (and only that) when `skip_bad_audio=True`;
`skip_fix` spells that option the way the user's command does (option_syntax.py). Which files
it can open is `readable_extensions()`, asked of libsndfile, not a list kept by hand.

Nothing is changed silently: `read_audio` returns, beside the waveform, the `AudioNote`s of what
it had to do or found (float audio beyond [-1, 1] peak-normalised, channels averaged and
channels that cancel when averaged, a file shorter than its header says, resampling), which the builders gather into the
dataset's warnings.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re

import numpy as np
import soundfile as sf
from scipy import signal

from bioacoustics_jax import option_syntax

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


@dataclasses.dataclass(frozen=True)
class AudioNote:
  """Something `read_audio` did to or found in one file (kind is a stable key, detail a phrase)."""

  kind: str  # "peak_normalized" | "downmixed" | "antiphase" | "truncated" | "resampled"
  detail: str
  # peak (peak_normalized), fraction read (truncated), source rate (resampled), channels
  # (downmixed)
  value: float = 0.0


@dataclasses.dataclass(frozen=True)
class LoadedAudio:
  waveform: np.ndarray  # float32 [T], mono, in [-1, 1]
  sample_rate: int
  notes: tuple[AudioNote, ...] = ()


# libsndfile reports a data chunk longer than the file as "data : 16000 (should be 7978)".
_WAV_DATA_SHORT = re.compile(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)")
# A downmix quieter than this fraction of its loudest channel (RMS) is "cancelled".
ANTIPHASE_RATIO = 0.05
# soundfile (libsndfile) format -> the file extensions it reads under it.
_FORMAT_EXTENSIONS = {"WAV": (".wav",), "WAVEX": (".wav",), "RF64": (".rf64",), "W64": (".w64",),
                      "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"), "MP3": (".mp3",),
                      "AIFF": (".aiff", ".aif", ".aifc"), "CAF": (".caf",), "AU": (".au", ".snd")}
# Audio extensions libsndfile has no decoder for (AAC, WMA, ...): named and counted when left out.
UNREADABLE_AUDIO = (".m4a", ".aac", ".mp4", ".wma", ".amr", ".3gp", ".ape", ".wv", ".mka")
CONVERT_FIX = ("convert them to wav or flac (e.g. `ffmpeg -i in.m4a out.wav`); this suite reads "
               "audio through libsndfile, which has no AAC/WMA decoder")


def readable_extensions() -> tuple[str, ...]:
  """The file extensions `read_audio` opens: those of the formats this libsndfile reads."""
  found = sf.available_formats()
  return tuple(sorted({e for fmt, exts in _FORMAT_EXTENSIONS.items() if fmt in found
                       for e in exts}))


def skip_fix(what: str) -> str:
  """The fix of a bad file, in the syntax of the command the user typed (option_syntax.py)."""
  return f"{what}, or set {option_syntax.spell('data.skip_bad_audio', True)} to skip it"


def _fraction_present(path: str) -> float | None:
  """Fraction of the declared wav data actually in the file, when the header overstates it."""
  try:
    extra = sf.info(path).extra_info
  except (sf.LibsndfileError, RuntimeError):
    return None
  m = _WAV_DATA_SHORT.search(extra or "")
  if not m or int(m.group(1)) <= 0:
    return None
  return min(1.0, int(m.group(2)) / int(m.group(1)))


def read_audio(
    path: str,
    *,
    expected_sample_rate: int | None = None,
    target_sample_rate: int | None = None,
    downmix: bool = True,
    channel: int | None = None,
) -> LoadedAudio:
  """Loads `path` as a float32 mono waveform in [-1, 1], with notes on what was done.

  Args:
    path: an audio file soundfile can read (wav, flac, ogg, mp3, ...).
    expected_sample_rate: if set, the file MUST have this rate; anything else is an AudioError.
      Use it where silently resampling would hide a data problem.
    target_sample_rate: if set, a file at another rate is resampled to it (BEANS does this for
      every dataset), with a "resampled" note; the returned rate is then `target_sample_rate`.
    downmix: multi-channel files are averaged to mono (as BEANS does); when the average is near
      silent while a channel is not (channels in anti-phase) an "antiphase" note says so. With
      `downmix=False` multi-channel files are an AudioError instead.
    channel: take this channel (0-based) of multi-channel files instead of averaging.

  Float files with samples beyond [-1, 1] are peak-normalised to 1 (a "peak_normalized" note)
  rather than clipped; a wav whose header promises more data than the file holds is read as far
  as it goes (a "truncated" note with the fraction read).

  Raises:
    AudioError: missing, empty, unreadable or corrupt file, no samples, NaN/inf samples,
      multi-channel audio with downmix=False, a channel the file does not have, or a rate other
      than `expected_sample_rate`.
  """
  path = os.fspath(path)
  if os.path.islink(path) and not os.path.exists(path):
    raise AudioError(path, f"is a broken symbolic link (to {os.readlink(path)}, which does not "
                     "exist)", skip_fix("point the link at the file, or copy the file there"))
  if not os.path.exists(path):
    raise AudioError(path, "file does not exist", skip_fix(
        "check the path in the annotation file (relative paths are resolved against "
        "the dataset folder and its parent) or regenerate/re-download the data"))
  if os.path.isdir(path):
    raise AudioError(path, "is a directory, not an audio file", "point to a file")
  if os.path.getsize(path) == 0:
    raise AudioError(path, "file is empty (0 bytes)", skip_fix("re-download or regenerate it"))
  try:
    # always_2d gives one code path for mono and multi-channel files.
    data, sr = sf.read(path, dtype="float32", always_2d=True)
  except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
    raise AudioError(path, f"unreadable or corrupt audio ({e})",
                     skip_fix("re-download or regenerate it")) from e
  if data.shape[0] == 0:
    raise AudioError(path, "audio has no samples", skip_fix("re-download or regenerate it"))
  if not np.all(np.isfinite(data)):
    bad = int(np.sum(~np.isfinite(data)))
    raise AudioError(path, f"{bad} NaN/inf samples",
                     skip_fix("fix or remove the file"))
  notes = []
  fraction = _fraction_present(path)
  if fraction is not None and fraction < 1.0:
    notes.append(AudioNote("truncated", f"{100 * fraction:.0f}% of the declared data present",
                           fraction))
  channels = data.shape[1]
  if channel is not None and channels > 1:
    if not 0 <= channel < channels:
      raise AudioError(path, f"has {channels} channels, channel {channel} was asked for",
                       f"set {option_syntax.spell('data.channel', 0)} (0..{channels - 1}), or "
                       "leave it unset to average")
    wav = data[:, channel]
  elif channels > 1:
    if not downmix:
      raise AudioError(path, f"{channels} channels where mono audio is required",
                       "convert it to mono, or allow downmixing (downmix=True)")
    wav = data.mean(axis=1)
    loudest = float(np.max(np.sqrt(np.mean(np.square(data, dtype=np.float64), axis=0))))
    mixed = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if loudest > 1e-6 and mixed < ANTIPHASE_RATIO * loudest:
      notes.append(AudioNote(
          "antiphase", f"{channels} channels, mono RMS {mixed:.2g} vs channel RMS {loudest:.2g}",
          mixed))
    notes.append(AudioNote("downmixed", f"{channels} channels", float(channels)))
    _log.info("%s: %d channels, averaged to mono", path, channels)  # the log's full list
  else:
    wav = data[:, 0]
  peak = float(np.max(np.abs(wav)))
  if peak > 1.0:  # only float files can hold such values; clipping would distort them
    wav = wav / peak
    notes.append(AudioNote("peak_normalized", f"peak {peak:.3g} > 1, divided by it", peak))
  if expected_sample_rate is not None and sr != int(expected_sample_rate):
    raise AudioError(path, f"sample rate is {sr} Hz, expected {int(expected_sample_rate)} Hz",
                     f"resample the file to {int(expected_sample_rate)} Hz, or allow resampling "
                     "(target_sample_rate / resample_mismatched=True)")
  if target_sample_rate is not None and sr != int(target_sample_rate):
    notes.append(AudioNote("resampled", f"{sr} Hz -> {int(target_sample_rate)} Hz", float(sr)))
    wav = resample(wav, sr, int(target_sample_rate))
    sr = int(target_sample_rate)
  return LoadedAudio(np.ascontiguousarray(wav, dtype=np.float32), int(sr), tuple(notes))


def load_audio(path: str, **kwargs) -> tuple[np.ndarray, int]:
  """`read_audio` without the notes: `(waveform, sample_rate)` (same arguments, same errors)."""
  loaded = read_audio(path, **kwargs)
  return loaded.waveform, loaded.sample_rate


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
