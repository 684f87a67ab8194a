"""Training-time augmentation, selected by `config.train.augment` (train/config.py).

Where each piece runs, and why:
- Background mixing and time shift run on the HOST, on each numpy training batch, with a numpy
  Generator seeded from (seed, epoch, step). Waveform mixing must happen before the frontend, and
  a per-batch seed makes a resumed run draw exactly the same augmentation as an uninterrupted one
  (tf.data's stateful randomness cannot be replayed from a step number).
- SpecAugment masks and mixup run on DEVICE, inside the jitted train step after the input recipe,
  with a key folded from (seed, step, device): they are cheap array ops that XLA fuses into the
  step, and they need the model input (mel) that only exists on device.
"""

from __future__ import annotations

import glob
import os
from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import io as audio_io


class BackgroundBank:
  """Background soundscapes to mix into training clips: float32 [K, T] at one sample rate."""

  def __init__(self, clips: np.ndarray, sample_rate: int, source: str = ""):
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[0] == 0:
      raise ValueError(f"BackgroundBank from {source or 'arrays'} needs clips [K>0, T], got "
                       f"{clips.shape}. With background_prob > 0, give background_dir (a folder "
                       "of noise wavs) or a detection split with background windows.")
    power = np.mean(clips**2, axis=1)
    self.clips = clips[power > 0]  # silent clips cannot be scaled to an SNR
    if len(self.clips) == 0:
      raise ValueError(f"All {len(clips)} background clips from {source or 'arrays'} are silent.")
    self.sample_rate = sample_rate

  @classmethod
  def from_folder(cls, folder: str, sample_rate: int, num_samples: int) -> "BackgroundBank":
    """Every wav/flac under `folder`, resampled, cut into non-overlapping `num_samples` pieces."""
    paths = sorted(p for ext in ("wav", "flac", "WAV")
                   for p in glob.glob(os.path.join(folder, "**", f"*.{ext}"), recursive=True))
    if not paths:
      raise FileNotFoundError(f"No .wav/.flac files under background_dir={folder!r}; put noise "
                              "recordings there or set background_dir='' to use the dataset's "
                              "background windows.")
    pieces = []
    for path in paths:
      wav, _ = audio_io.load_audio(path, target_sample_rate=sample_rate)
      n = max(len(wav) // num_samples, 1)
      pieces.extend(audio_io.fit_length(wav[i * num_samples:], num_samples) for i in range(n))
    return cls(np.stack(pieces), sample_rate, source=folder)

  @classmethod
  def from_batches(cls, batches: Iterable[dict], sample_rate: int,
                   max_clips: int = 512) -> "BackgroundBank":
    """Background-only windows (all-zero multi-hot label) of a detection split's batches."""
    clips = []
    for batch in batches:
      label, mask = np.asarray(batch["label"]), np.asarray(batch["mask"], bool)
      if label.ndim != 2:
        raise ValueError("Background windows come from a detection split (multi-hot labels); "
                         "for classification data set train.augment.background_dir.")
      keep = mask & (label.sum(axis=1) == 0)
      clips.extend(np.asarray(batch["audio"])[keep])
      if len(clips) >= max_clips:
        break
    return cls(np.stack(clips) if clips else np.zeros((0, 0)), sample_rate,
               source="the split's background windows")

  def sample(self, rng: np.random.Generator, num_samples: int) -> np.ndarray:
    clip = self.clips[rng.integers(len(self.clips))]
    if len(clip) >= num_samples:
      start = rng.integers(len(clip) - num_samples + 1)
      return clip[start:start + num_samples]
    return np.resize(clip, num_samples)  # tile a short noise clip


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
  """signal + noise scaled so that 10*log10(P_signal / P_noise) = snr_db (silent signal: as is)."""
  p_signal = float(np.mean(signal**2))
  p_noise = float(np.mean(noise**2))
  if p_signal == 0.0 or p_noise == 0.0:
    return signal
  scale = np.sqrt(p_signal / (p_noise * 10.0**(snr_db / 10.0)))
  return (signal + scale * noise).astype(np.float32)


def batch_rng(seed: int, epoch: int, step: int, process: int = 0) -> np.random.Generator:
  """The host augmentation Generator of one training batch on one process (replayable on
  resume; processes draw differently because they hold different examples)."""
  return np.random.default_rng([int(seed), int(epoch), int(step), int(process)])


def host_augment(batch: dict, rng: np.random.Generator, config, sample_rate: int,
                 bank: BackgroundBank | None = None) -> dict:
  """Background mixing at a random SNR and random circular time shift, per masked row."""
  prob = float(config.background_prob)
  shift = int(round(float(config.time_shift_seconds) * sample_rate))
  if prob <= 0 and shift <= 0:
    return batch
  if prob > 0 and bank is None:
    raise ValueError("train.augment.background_prob > 0 needs a BackgroundBank (set "
                     "background_dir, or train on a detection split with background windows).")
  audio = np.array(batch["audio"], np.float32, copy=True)
  mask = np.asarray(batch["mask"], bool)
  lo, hi = config.snr_db
  for i in np.flatnonzero(mask):
    if prob > 0 and rng.random() < prob:
      audio[i] = mix_at_snr(audio[i], bank.sample(rng, audio.shape[1]), rng.uniform(lo, hi))
    if shift > 0:
      audio[i] = np.roll(audio[i], rng.integers(-shift, shift + 1))
  return dict(batch, audio=audio)


def spec_augment(inputs: jnp.ndarray, rng: jax.Array, config, freq_axis: int = 1,
                 time_axis: int = 2) -> jnp.ndarray:
  """SpecAugment: zero `freq_masks` random bands and `time_masks` random spans per example.

  `inputs` is the recipe's output, e.g. [B, mels, frames, C] for the CNN recipes. Mask widths
  are uniform in [0, max width]; masks are built with comparisons (no dynamic slicing) so the
  shapes are static under jit.
  """
  if not (config.freq_masks or config.time_masks):
    return inputs
  if inputs.ndim < 3:
    raise ValueError(f"SpecAugment needs a spectrogram input [B, F, T, ...]; this model's input "
                     f"has shape {inputs.shape} (a waveform?). Set freq_masks=time_masks=0.")
  batch = inputs.shape[0]
  keep = jnp.ones(inputs.shape, bool)
  for axis, count, width, key in ((freq_axis, config.freq_masks, config.freq_mask_width, 0),
                                  (time_axis, config.time_masks, config.time_mask_width, 1)):
    size = inputs.shape[axis]
    for k in range(int(count)):
      r = jax.random.fold_in(jax.random.fold_in(rng, key), k)
      r_w, r_s = jax.random.split(r)
      w = jax.random.randint(r_w, (batch,), 0, int(width) + 1)
      start = jax.random.randint(r_s, (batch,), 0, jnp.maximum(size - w, 0) + 1)
      pos = jnp.arange(size)
      band = (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])  # [B, size]
      shape = [batch] + [1] * (inputs.ndim - 1)
      shape[axis] = size
      keep = keep & ~band.reshape(shape)
  return jnp.where(keep, inputs, jnp.zeros((), inputs.dtype))


def mixup(inputs: jnp.ndarray, targets: jnp.ndarray, rng: jax.Array,
          alpha: float) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Mixes each example with a random partner of the same device batch: one lambda per batch
  ~ Beta(alpha, alpha); targets (one-/multi-hot) are mixed with the same lambda."""
  if alpha <= 0:
    return inputs, targets
  r_lam, r_perm = jax.random.split(rng)
  lam = jax.random.beta(r_lam, alpha, alpha)
  perm = jax.random.permutation(r_perm, inputs.shape[0])
  mixed = lam * inputs + (1.0 - lam) * inputs[perm]
  return mixed.astype(inputs.dtype), lam * targets + (1.0 - lam) * targets[perm]


def device_augment(config):
  """`fn(inputs, targets, rng) -> (inputs, targets)` for the train step, or None when off."""
  if not (config.freq_masks or config.time_masks or config.mixup_alpha > 0):
    return None

  def fn(inputs, targets, rng):
    r_spec, r_mix = jax.random.split(rng)
    inputs = spec_augment(inputs, r_spec, config)
    return mixup(inputs, targets, r_mix, float(config.mixup_alpha))

  return fn
