"""The jnp frontend against librosa (STFT/mel/dB) and transformers (filterbanks).

Tolerance: float32 throughout, so we require max|ours - ref| / max|ref| <= 1e-4 on mel power
(observed ~1e-7 to 1e-6), and <= 1e-3 dB on power_to_db.
"""

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
from transformers.audio_utils import mel_filter_bank

from bioacoustics_jax.audio import frontend

REL_TOL = 1e-4
RATES = (16000, 22050, 44100, 192000)


def _audio(sample_rate: int, seconds: float = 0.5, batch: int = 2) -> np.ndarray:
  rng = np.random.default_rng(sample_rate)
  n = int(sample_rate * seconds)
  t = np.arange(n) / sample_rate
  audio = 0.1 * rng.standard_normal((batch, n))
  audio[0] += 0.5 * np.sin(2 * np.pi * 440.0 * t)  # a tone, so bins differ by orders of magnitude
  audio[-1] *= np.linspace(0.0, 1.0, n)
  return audio.astype(np.float32)


def _rel_err(ours, ref) -> float:
  return float(np.abs(np.asarray(ours) - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("sample_rate", RATES)
def test_mel_matches_librosa_defaults(sample_rate):
  audio = _audio(sample_rate)
  ours = frontend.mel_spectrogram(jnp.asarray(audio), sample_rate)
  ref = librosa.feature.melspectrogram(y=audio, sr=sample_rate)
  assert ours.shape == ref.shape
  assert _rel_err(ours, ref) <= REL_TOL


@pytest.mark.parametrize("sample_rate", RATES)
def test_mel_matches_librosa_beans_sizes_htk_reflect(sample_rate):
  # BEANS window sizes (odd n_fft at 44.1 kHz) with torch-style reflect padding and HTK mels.
  audio = _audio(sample_rate)
  n_fft, hop = int(0.05 * sample_rate), int(0.01 * sample_rate)
  kwargs = dict(n_fft=n_fft, hop_length=hop, n_mels=128, htk=True, norm=None,
                pad_mode="reflect")
  ours = frontend.mel_spectrogram(jnp.asarray(audio), sample_rate, **kwargs)
  ref = librosa.feature.melspectrogram(y=audio, sr=sample_rate, **kwargs)
  assert ours.shape == ref.shape
  assert _rel_err(ours, ref) <= REL_TOL


def test_short_window_and_magnitude_match_librosa():
  audio = _audio(16000)
  ours = frontend.mel_spectrogram(jnp.asarray(audio), 16000, n_fft=512, hop_length=160,
                                  win_length=400, n_mels=40, power=1.0, fmin=50.0, fmax=7000.0)
  ref = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=512, hop_length=160,
                                       win_length=400, n_mels=40, power=1.0, fmin=50.0,
                                       fmax=7000.0)
  assert _rel_err(ours, ref) <= REL_TOL


@pytest.mark.parametrize("sample_rate", (22050, 44100, 9600))
def test_torchaudio_filterbank_matches_transformers_port(sample_rate):
  # transformers' mel_filter_bank(triangularize_in_mel_space=False) places bins like torchaudio
  # (linspace(0, sr // 2)), so it stands in for torchaudio.functional.melscale_fbanks here.
  n_fft = int(0.05 * sample_rate)
  ref = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=128,
                        min_frequency=0.0, max_frequency=sample_rate // 2,
                        sampling_rate=sample_rate, norm=None, mel_scale="htk")
  ours = frontend.mel_filterbank(sample_rate, n_fft, 128, htk=True, norm=None,
                                 bin_freqs="linspace")
  assert _rel_err(ours, ref) <= 1e-6


def test_librosa_filterbank_slaney():
  ours = frontend.mel_filterbank(44100, 2205, 64, fmin=20.0, fmax=16000.0)
  ref = librosa.filters.mel(sr=44100, n_fft=2205, n_mels=64, fmin=20.0, fmax=16000.0).T
  assert _rel_err(ours, ref) <= 1e-6


def test_kaldi_space_filterbank_matches_transformers():
  ref = mel_filter_bank(num_frequency_bins=257, num_mel_filters=128, min_frequency=20.0,
                        max_frequency=8000.0, sampling_rate=16000, norm=None,
                        mel_scale="kaldi", triangularize_in_mel_space=True)
  ours = frontend.mel_space_filterbank(257, 16000, 128, 20.0, 8000.0)
  assert _rel_err(ours, ref) <= 1e-6


def test_power_to_db_matches_librosa_per_example():
  audio = _audio(22050)
  mel = frontend.mel_spectrogram(jnp.asarray(audio), 22050)
  ours = np.asarray(frontend.power_to_db(mel))
  for i in range(len(audio)):
    ref = librosa.power_to_db(np.asarray(mel[i]))
    assert np.abs(ours[i] - ref).max() <= 1e-3


def test_jit_and_batch_independence():
  audio = _audio(16000, batch=3)
  fn = jax.jit(lambda a: frontend.mel_spectrogram(a, 16000, n_fft=800, hop_length=160))
  batched = np.asarray(fn(jnp.asarray(audio)))
  single = np.asarray(fn(jnp.asarray(audio[1:2])))
  assert _rel_err(batched[1:2], single) <= 1e-6


def test_frame_layout():
  audio = jnp.arange(10, dtype=jnp.float32)[None]
  frames = np.asarray(frontend.frame(audio, 4, 3))
  np.testing.assert_array_equal(frames[0], [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])


def test_clear_errors():
  with pytest.raises(ValueError, match=r"\[batch, samples\]"):
    frontend.stft(jnp.zeros(100), 64, 16)
  with pytest.raises(ValueError, match="pad_mode"):
    frontend.stft(jnp.zeros((1, 100)), 64, 16, pad_mode="wrap")
  with pytest.raises(ValueError, match="reflect padding"):
    frontend.stft(jnp.zeros((1, 20)), 64, 16, pad_mode="reflect")
  with pytest.raises(ValueError, match="fmax"):
    frontend.mel_filterbank(16000, 512, 64, fmax=9000.0)
  with pytest.raises(ValueError, match="shorter than one frame"):
    frontend.frame(jnp.zeros((1, 3)), 4, 1)


@pytest.mark.parametrize("in_size,out_size", [(128, 224), (1000, 224), (101, 224), (224, 224)])
def test_linear_resize_matrix_is_torch_antialiased_bilinear(in_size, out_size):
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  eye = torch.eye(in_size, dtype=torch.float64)[None, None]
  # Resizing the identity along one axis gives torch's weight matrix, computed in float64.
  want = torch.nn.functional.interpolate(eye, size=(out_size, in_size), mode="bilinear",
                                         align_corners=False, antialias=True)[0, 0].numpy()
  got = frontend.linear_resize_matrix(in_size, out_size)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
  x = np.random.default_rng(0).random((in_size, 3)).astype(np.float32)
  np.testing.assert_allclose(got @ x, jax.image.resize(x, (out_size, 3), "linear"), atol=2e-5)
