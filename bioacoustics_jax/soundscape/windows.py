"""Long recordings -> the model's windows, streamed: a multi-hour file is never decoded whole.

An archive is a folder of recordings of any length, in any format soundfile reads (the suite's
`catalog.AUDIO_EXTENSIONS`). `find_recordings(root)` lists them (sorted by their path relative to
root, which is their name in the store) with what the file header says; `stream_windows` cuts
one into windows of `window_seconds` every `hop_seconds`, reading `block_windows` windows' worth
of samples at a time (soundfile seek + read), so memory is bounded by the block, not the file.

The windows of a recording start at 0, hop, 2 hop, ... while the previous window does not reach
the end; the last one is zero-padded to the full window (its `end` is the audio's end), so every
sample is in at least one window and a recording shorter than a window gives one window.

A window's audio is the source samples of [start, start + window) (downmixed by averaging the
channels, or one channel), resampled on its own to the model's input rate when the file's rate
differs (polyphase, `audio.io.resample`): a window never depends on its neighbours, so streaming,
resuming or splitting a folder over hosts cannot change it. Float files with samples beyond
[-1, 1] are left as they are (`audio.io.read_audio` peak-normalises a whole file; a stream
cannot know the peak before reading the file).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator

import numpy as np
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import windows as detection_windows


@dataclasses.dataclass(frozen=True)
class Recording:
  """One file of the archive, as its header describes it."""

  path: str  # absolute
  name: str  # path relative to the archive root, '/'-separated: its key in the store
  sample_rate: int
  frames: int
  channels: int
  size: int  # bytes: a file that changes after it was embedded is refused, not mixed

  @property
  def seconds(self) -> float:
    return self.frames / self.sample_rate


@dataclasses.dataclass(frozen=True)
class WindowSpec:
  """Windows of `window_seconds` every `hop_seconds` at the model's input rate."""

  window_seconds: float
  hop_seconds: float
  sample_rate: int

  def __post_init__(self):
    if not self.window_seconds > 0 or not self.hop_seconds > 0:
      raise ValueError(f"Window {self.window_seconds} s, hop {self.hop_seconds} s: both must be "
                       "> 0 (archive.window_seconds, archive.hop_seconds).")
    if self.hop_seconds > self.window_seconds:
      raise ValueError(f"Hop {self.hop_seconds} s is longer than the window "
                       f"{self.window_seconds} s: audio between windows would never be embedded; "
                       "set archive.hop_seconds <= archive.window_seconds.")

  @property
  def window_samples(self) -> int:
    return int(round(self.window_seconds * self.sample_rate))

  def starts(self, seconds: float) -> np.ndarray:
    """Start times (s) of the windows of a recording `seconds` long: the detection windows'
    "cover_tail" rule (data/windows.py), the tail window zero-padded."""
    return detection_windows.window_starts(seconds, self.window_seconds, self.hop_seconds,
                                           rule="cover_tail")

  def count(self, seconds: float) -> int:
    return len(self.starts(seconds))


def find_recordings(root: str) -> list[Recording]:
  """Every audio file under `root` (hidden files and folders skipped), sorted by name."""
  root = os.path.abspath(os.path.expanduser(root))
  if not os.path.isdir(root):
    raise FileNotFoundError(f"Archive folder {root} does not exist; set archive.root "
                            "(`--config=experiments/configs/archive.py:root=PATH`).")
  found = []
  for base, folders, files in os.walk(root):
    folders[:] = sorted(d for d in folders if not d.startswith("."))
    for file in files:
      path = os.path.join(base, file)
      rel = os.path.relpath(path, root)
      if file.startswith(".") or not file.lower().endswith(catalog.AUDIO_EXTENSIONS):
        continue
      found.append(describe(path, rel.replace(os.sep, "/")))
  if not found:
    raise FileNotFoundError(f"No audio files under {root} (formats "
                            f"{', '.join(catalog.AUDIO_EXTENSIONS)}).")
  return sorted(found, key=lambda r: r.name)


def describe(path: str, name: str) -> Recording:
  """The header of one file; an unreadable or empty file is an AudioError naming it."""
  try:
    info = sf.info(path)
  except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
    raise audio_io.AudioError(path, f"unreadable audio header ({e})",
                              "re-download or convert the file, or move it out of the archive"
                              ) from e
  if info.frames <= 0:
    raise audio_io.AudioError(path, "audio has no samples", "remove it from the archive")
  return Recording(path=path, name=name, sample_rate=int(info.samplerate), frames=int(info.frames),
                   channels=int(info.channels), size=os.path.getsize(path))


def stream_windows(recording: Recording, spec: WindowSpec, *, channel: int = -1,
                   block_windows: int = 64, span: tuple[float, float] | None = None
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
  """Yields (starts [n] s, ends [n] s, audio [n, window_samples] float32) blocks of at most
  `block_windows` windows, in time order. `channel` -1 averages the channels. `span`
  (start, end) s: the windows of that stretch only (a search query), as if it were the file."""
  if channel >= recording.channels or channel < -1:
    raise audio_io.AudioError(recording.path, f"has {recording.channels} channel(s), channel "
                              f"{channel} was asked for",
                              f"set archive.channel to -1 (average) or 0..{recording.channels - 1}")
  src_rate = recording.sample_rate
  src_window = int(round(spec.window_seconds * src_rate))
  begin, end = span if span is not None else (0.0, recording.seconds)
  end = min(end, recording.seconds)
  if not 0 <= begin < end:
    raise ValueError(f"{recording.path}: no audio in {begin}-{end} s (the file is "
                     f"{recording.seconds:.3f} s long).")
  last = int(round(end * src_rate))
  starts = begin + spec.starts(end - begin)
  first_sample = np.round(starts * src_rate).astype(np.int64)
  with sf.SoundFile(recording.path) as f:
    for b in range(0, len(starts), block_windows):
      block = first_sample[b:b + block_windows]
      lo, hi = int(block[0]), min(int(block[-1]) + src_window, last)
      f.seek(lo)
      data = f.read(hi - lo, dtype="float32", always_2d=True)
      mono = data.mean(axis=1) if channel < 0 else data[:, channel]
      audio = np.zeros((len(block), spec.window_samples), np.float32)
      for i, s in enumerate(block - lo):
        piece = mono[s:s + src_window]
        if src_rate != spec.sample_rate:
          piece = audio_io.resample(piece, src_rate, spec.sample_rate)
        piece = piece[:spec.window_samples]
        audio[i, :len(piece)] = piece
      if not np.all(np.isfinite(audio)):
        raise audio_io.AudioError(recording.path, "NaN/inf samples",
                                  "fix the file or move it out of the archive")
      block_starts = starts[b:b + block_windows]
      ends = np.minimum(block_starts + spec.window_seconds, end)
      yield block_starts, ends, audio
