"""The Perch recipes (audio/recipes/perch.py) against tf.signal and scipy.

- The mel matrix equals tf.signal.linear_to_mel_weight_matrix (what chirp.signal ports).
- The magnitude STFT equals scipy.signal.stft with chirp's arguments (jax.scipy.signal.stft,
  which chirp calls, follows scipy) and tf.signal.stft on the same zero-padded frames divided
  by the window sum: our window is centred in the 1024-point frame, theirs starts it, which
  changes phases only.
- perch_logmel = 0.1 ln(max(mel, 0.01)) of that; perch_pcen = PCEN of it with chirp's
  convolutional EMA, written out here as a loop over frames.
Differences from librosa's mel spectrogram, by design of the original: TF's HTK-formula
triangles without area normalisation (librosa: Slaney), magnitude (power 1) scaled by 1/320
(scipy's "spectrum" scaling), natural log with floor 0.01 and factor 0.1 (not dB).
"""

import os

import jax
import numpy as np
import pytest
import scipy.signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bioacoustics_jax.audio import recipes  # noqa: E402
from bioacoustics_jax.audio.recipes import perch  # noqa: E402


def _audio(samples=perch.PERCH_WINDOW, batch=2, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(samples) / perch.PERCH_RATE
  audio = 0.05 * rng.standard_normal((batch, samples))
  audio[0] += 0.3 * np.sin(2 * np.pi * 3000.0 * t)
  return audio.astype(np.float32)


def _scipy_mel(audio, lower_hz):
  _, _, z = scipy.signal.stft(audio, nperseg=640, noverlap=320, nfft=1024, padded=False)
  if audio.shape[-1] % 320 == 0:
    z = z[..., :-1]
  matrix = perch.tf_mel_matrix(128, 513, perch.PERCH_RATE, lower_hz, 16000.0)
  return np.swapaxes(np.abs(z), -1, -2) @ matrix.astype(np.float64)


def test_mel_matrix_is_tf_signals():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for lower in (60.0, 50.0):
    ours = perch.tf_mel_matrix(128, 513, 32000, lower, 16000.0)
    theirs = tf.signal.linear_to_mel_weight_matrix(128, 513, 32000, lower, 16000.0).numpy()
    np.testing.assert_allclose(ours, theirs, atol=5e-5)  # TF: float32 mel arithmetic


def test_stft_magnitude_is_scipy_and_tf_signal():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  audio = _audio(32000 + 123)  # not a multiple of the hop: no frame dropped
  ours = np.asarray(jax.jit(lambda a: perch.chirp_mel(a, 60.0, 16000.0))(audio))
  ref = _scipy_mel(audio.astype(np.float64), 60.0)
  assert ours.shape == ref.shape == (2, 101, 128)
  assert np.max(np.abs(ours - ref)) / np.max(ref) <= 1e-5
  padded = np.pad(audio, ((0, 0), (320, 320)))
  spec = tf.signal.stft(padded, 640, 320, fft_length=1024, window_fn=tf.signal.hann_window,
                        pad_end=False).numpy()
  tf_mel = np.abs(spec) / 320.0 @ perch.tf_mel_matrix(128, 513, 32000, 60.0, 16000.0)
  np.testing.assert_allclose(ours, tf_mel[:, :ours.shape[1]], rtol=1e-4, atol=1e-6)


def test_perch_logmel_windows_and_log():
  audio = _audio(perch.PERCH_WINDOW + 64000)  # 7 s: two windows, the second zero-padded
  out = np.asarray(jax.jit(recipes.get_recipe("perch_logmel").prepare, static_argnums=1)(
      audio, 32000))
  assert out.shape == (2, 2, 500, 128, 1)
  padded = np.pad(audio, ((0, 0), (0, 2 * perch.PERCH_WINDOW - audio.shape[1])))
  second = _scipy_mel(padded[:, perch.PERCH_WINDOW:].astype(np.float64), 60.0)
  np.testing.assert_allclose(out[:, 1, ..., 0], 0.1 * np.log(np.maximum(second, 0.01)),
                             atol=2e-5)
  assert np.all(out[:, 1, -100:] == pytest.approx(0.1 * np.log(0.01)))  # padding: the floor
  with pytest.raises(ValueError, match="32000"):
    recipes.get_recipe("perch_logmel").prepare(audio, 16000)


def test_perch_pcen_is_chirps_conv_ema():
  audio = _audio()
  out = np.asarray(jax.jit(perch.perch_pcen, static_argnums=1)(audio, 32000))[:, 0, ..., 0]
  energy = _scipy_mel(audio.astype(np.float64), 50.0)
  s, width = 0.145, 256
  kernel = np.array([(1 - s) ** k for k in range(width - 1)] + [s])
  padded = np.concatenate([np.repeat(energy[:, :1], width - 1, 1), energy], 1)
  smoothed = np.stack([np.einsum("bwm,w->bm", padded[:, t:t + width], kernel)
                       for t in range(energy.shape[1])], 1)
  ref = (energy / (1e-6 + smoothed) ** 0.8 + 10.0) ** 0.25 - 10.0 ** 0.25
  assert out.shape == ref.shape == (2, 500, 128)
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)
