"""The Perch models' input recipes: chirp's MelSpectrogram front end at 32 kHz, 5 s windows.

Both follow chirp/models/frontend.py `MelSpectrogram` (google-research/perch), the front end
inside the exported SavedModels:
- STFT as `jax.scipy.signal.stft(x, nperseg=640, noverlap=320, nfft=1024, padded=False)`:
  scipy's defaults around it: periodic Hann window of 640 samples, 320 zeros on each side
  (boundary="zeros"), frames every 320 samples, the windowed frame zero-padded to 1024 points,
  scaled by 1 / sum(window) = 1/320 (scaling="spectrum"); the last frame dropped when the
  length is a multiple of 320, so 5 s give 500 frames. Our STFT centres the 640-point window
  inside the 1024-point frame instead of putting it first: a circular shift, so the
  magnitudes (all that is used, power 1) are the same.
- Mel: chirp's port of tf.signal.linear_to_mel_weight_matrix (HTK formula 1127 ln(1 + f/700),
  triangles in mel space over `linspace(0, 16000, 513)` bin frequencies, the DC bin zeroed, no
  area normalisation): not librosa's Slaney filters.
- perch_logmel (Perch 2.0, chirp/models/perch_2.py): 128 bands 60-16000 Hz, power 1, then
  chirp's LogScalingConfig defaults: 0.1 * ln(max(mel, 0.01) + 0). Output [B, windows, 500,
  128, 1] (time first, as chirp's spectrogram[..., None]).
- perch_pcen (Perch v1 / SurfPerch: chirp/configs/baseline.py and presets.py at the July 2023
  TF Hub release, commit 91898ee, `get_bio_pcen_melspec_config`): 128 bands 50-16000 Hz,
  power 1, then PCEN with smoothing 0.145, gain 0.8, bias 10, root 4, eps 1e-6 and chirp's
  convolutional EMA (`ema_conv1d`, width 256: the energies left-padded with 255 copies of the
  first frame, correlated with the kernel [(1 - s)^0, ..., (1 - s)^254, s] per band, as chirp
  computes it), (E / (eps + M)^gain + bias)^(1/root) - bias^(1/root).
Windows: the models take exactly 5 s (160,000 samples). A clip is zero-padded at its end to a
whole number of 5 s windows (at least one), as perch-hoplite frames audio; each window is a
separate spectrogram and the model averages the windows' embeddings.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio.recipes.registry import (InputRecipe, as_batch, register_recipe,
                                                     require_rate)

PERCH_RATE = 32000
PERCH_WINDOW = 5 * PERCH_RATE
PERCH_HOP = 320
PERCH_WIN_LENGTH = 640
PERCH_N_FFT = 1024
PERCH_N_MELS = 128
LOG_FLOOR, LOG_OFFSET, LOG_SCALAR = 0.01, 0.0, 0.1  # chirp LogScalingConfig() defaults
PCEN = {"smoothing": 0.145, "gain": 0.8, "bias": 10.0, "root": 4.0, "eps": 1e-6, "width": 256}


@functools.lru_cache(maxsize=8)
def tf_mel_matrix(num_mel_bins: int, num_spectrogram_bins: int, sample_rate: int,
                  lower_hz: float, upper_hz: float) -> np.ndarray:
  """[bins, mels] float32: tf.signal.linear_to_mel_weight_matrix (as chirp.signal ports it)."""
  def mel(f):
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)
  freqs = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)[1:]
  bins = mel(freqs)[:, None]
  edges = np.linspace(mel(lower_hz), mel(upper_hz), num_mel_bins + 2)
  lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
  weights = np.maximum(0.0, np.minimum((bins - lower) / (center - lower),
                                       (upper - bins) / (upper - center)))
  return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def windows(audio: jax.Array, length: int = PERCH_WINDOW) -> jax.Array:
  """[B, T] -> [B, n, length]: zero-padded at the end to n = max(1, ceil(T / length))."""
  n = max(1, -(-audio.shape[-1] // length))
  audio = jnp.pad(audio, ((0, 0), (0, n * length - audio.shape[-1])))
  return audio.reshape(audio.shape[0], n, length)


def chirp_mel(audio: jax.Array, lower_hz: float, upper_hz: float) -> jax.Array:
  """[B, T] 32 kHz -> [B, frames, 128] mel magnitude (power 1) as chirp's MelSpectrogram."""
  magnitude = frontend.power_spectrogram(audio, PERCH_N_FFT, PERCH_HOP, PERCH_WIN_LENGTH,
                                         power=1.0, center=True, pad_mode="constant")
  if audio.shape[-1] % PERCH_HOP == 0:
    magnitude = magnitude[:, :-1]
  scale = 1.0 / float(frontend.hann_window(PERCH_WIN_LENGTH, periodic=True).sum())
  matrix = tf_mel_matrix(PERCH_N_MELS, PERCH_N_FFT // 2 + 1, PERCH_RATE, lower_hz, upper_hz)
  return jnp.einsum("bfk,km->bfm", magnitude * scale, jnp.asarray(matrix),
                    precision=jax.lax.Precision.HIGHEST)


def ema_conv(energy: jax.Array, smoothing: float, width: int) -> jax.Array:
  """chirp audio_utils.ema_conv1d over frames of [B, frames, bands]."""
  padded = jnp.concatenate([jnp.repeat(energy[:, :1], width - 1, axis=1), energy], axis=1)
  kernel = np.array([(1.0 - smoothing) ** k for k in range(width - 1)] + [smoothing],
                    np.float32)
  bands = energy.shape[-1]
  return jax.lax.conv_general_dilated(
      padded, jnp.asarray(np.broadcast_to(kernel[:, None, None], (width, 1, bands))), (1,),
      "VALID", feature_group_count=bands, dimension_numbers=("NTC", "TIO", "NTC"),
      precision=jax.lax.Precision.HIGHEST)


def pcen(energy: jax.Array) -> jax.Array:
  smoothed = ema_conv(energy, PCEN["smoothing"], PCEN["width"])
  inv_root = 1.0 / PCEN["root"]
  return ((energy / (PCEN["eps"] + smoothed) ** PCEN["gain"] + PCEN["bias"]) ** inv_root
          - PCEN["bias"] ** inv_root)


def _per_window(audio: jax.Array, sample_rate: int, name: str, lower_hz: float, scale):
  require_rate(name, PERCH_RATE, sample_rate)
  cut = windows(as_batch(audio, name))
  batch, n = cut.shape[:2]
  mel = scale(chirp_mel(cut.reshape(batch * n, -1), lower_hz, 16000.0))
  return mel.reshape((batch, n) + mel.shape[1:] + (1,))


def perch_logmel(audio: jax.Array, sample_rate: int) -> jax.Array:
  """Perch 2.0's input [B, windows, 500, 128, 1]."""
  return _per_window(audio, sample_rate, "perch_logmel", 60.0, lambda m: LOG_SCALAR * jnp.log(
      jnp.maximum(m, LOG_FLOOR) + LOG_OFFSET))


def perch_pcen(audio: jax.Array, sample_rate: int) -> jax.Array:
  """Perch v1 / SurfPerch's input [B, windows, 500, 128, 1]."""
  return _per_window(audio, sample_rate, "perch_pcen", 50.0, pcen)


register_recipe(InputRecipe(
    name="perch_logmel", sample_rate=PERCH_RATE, prepare=perch_logmel,
    description="Perch 2.0: chirp MelSpectrogram at 32 kHz (640/320, nfft 1024, 128 TF-mel "
                "bands 60-16000 Hz, magnitude / 320), 0.1 ln(max(x, 0.01)); 5 s windows; "
                "[B, windows, 500, 128, 1]"))
register_recipe(InputRecipe(
    name="perch_pcen", sample_rate=PERCH_RATE, prepare=perch_pcen,
    description="Perch v1 / SurfPerch: chirp MelSpectrogram at 32 kHz (640/320, nfft 1024, 128 "
                "TF-mel bands 50-16000 Hz), PCEN (0.145, 0.8, 10, 4, conv EMA 256); 5 s "
                "windows; [B, windows, 500, 128, 1]"))
