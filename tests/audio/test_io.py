"""audio/io.py: clean waveforms from good files, a clear AudioError for each kind of bad file."""

import numpy as np
import pytest
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io


def _sine(sr, seconds=0.5, freq=440.0, channels=1):
  t = np.arange(int(sr * seconds)) / sr
  x = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
  return np.stack([x] * channels, axis=1) if channels > 1 else x


def _error(tmp_path, path, **kwargs):
  with pytest.raises(audio_io.AudioError) as e:
    audio_io.load_audio(path, **kwargs)
  assert str(path) in str(e.value) and "Fix:" in str(e.value)
  assert isinstance(e.value, ValueError)
  return e.value


def test_loads_pcm16_mono_float32(tmp_path):
  p = str(tmp_path / "a.wav")
  x = _sine(8000)
  audio_io.write_wav(p, x, 8000)
  info = sf.info(p)
  assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
  y, sr = audio_io.load_audio(p)
  assert sr == 8000 and y.dtype == np.float32 and y.shape == x.shape
  np.testing.assert_allclose(y, x, atol=1 / 32768 + 1e-6)


def test_resample_exact_ratio_and_keeps_pitch():
  x = _sine(44100, seconds=1.0, freq=1000.0)
  y = audio_io.resample(x, 44100, 16000)
  assert y.dtype == np.float32 and len(y) == 16000
  spectrum = np.abs(np.fft.rfft(y))
  assert abs(np.argmax(spectrum) * 16000 / len(y) - 1000.0) <= 1.0
  np.testing.assert_array_equal(audio_io.resample(x, 44100, 44100), x)
  assert len(audio_io.resample(np.zeros(1001, np.float32), 3, 2)) == 668  # ceil(1001*2/3)
  with pytest.raises(ValueError):
    audio_io.resample(x, 0, 16000)


def test_missing_file(tmp_path):
  e = _error(tmp_path, str(tmp_path / "nope.wav"))
  assert "does not exist" in e.reason


def test_empty_file(tmp_path):
  p = tmp_path / "empty.wav"
  p.write_bytes(b"")
  assert "empty" in _error(tmp_path, str(p)).reason


def test_corrupt_file(tmp_path):
  p = tmp_path / "corrupt.wav"
  p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 3)
  assert "corrupt" in _error(tmp_path, str(p)).reason


def test_zero_samples(tmp_path):
  p = str(tmp_path / "zero.wav")
  sf.write(p, np.zeros(0, np.float32), 8000, subtype="PCM_16")
  assert "no samples" in _error(tmp_path, p).reason


def test_nan_samples(tmp_path):
  p = str(tmp_path / "nan.wav")
  x = _sine(8000)
  x[10] = np.nan
  x[20] = np.inf
  sf.write(p, x, 8000, subtype="FLOAT")
  assert "2 NaN/inf" in _error(tmp_path, p).reason


def test_stereo_downmixed_or_rejected(tmp_path):
  p = str(tmp_path / "stereo.wav")
  x = _sine(8000, channels=2)
  x[:, 1] = 0.0
  sf.write(p, x, 8000, subtype="FLOAT")
  y, sr = audio_io.load_audio(p)
  assert y.ndim == 1 and sr == 8000
  np.testing.assert_allclose(y, x[:, 0] / 2, atol=1e-6)
  assert "2 channels" in _error(tmp_path, p, downmix=False).reason


def test_wrong_rate_resampled_or_rejected(tmp_path):
  p = str(tmp_path / "rate.wav")
  audio_io.write_wav(p, _sine(22050, seconds=1.0), 22050)
  y, sr = audio_io.load_audio(p, target_sample_rate=16000)
  assert sr == 16000 and len(y) == 16000
  assert audio_io.load_audio(p, expected_sample_rate=22050)[1] == 22050
  e = _error(tmp_path, p, expected_sample_rate=16000)
  assert "22050" in e.reason and "16000" in e.reason


def test_fit_length():
  x = np.arange(5, dtype=np.float32)
  np.testing.assert_array_equal(audio_io.fit_length(x, 3), [0, 1, 2])
  np.testing.assert_array_equal(audio_io.fit_length(x, 7), [0, 1, 2, 3, 4, 0, 0])


def test_audio_error_survives_pickling():
  import pickle  # pylint: disable=g-import-not-at-top
  e = pickle.loads(pickle.dumps(audio_io.AudioError("x.wav", "empty", "regenerate it")))
  assert (e.path, e.reason, e.fix) == ("x.wav", "empty", "regenerate it")
