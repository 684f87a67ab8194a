"""Streaming windows equal the whole file's windows; counts, tail padding, channels, resampling."""

import numpy as np
import pytest
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.soundscape import windows


def _write(path, x, rate, subtype="FLOAT"):
  sf.write(str(path), x, rate, subtype=subtype)
  return windows.describe(str(path), path.name)


@pytest.mark.parametrize("hop,block", [(0.5, 3), (1.0, 64), (0.3, 1)])
def test_streamed_windows_equal_slices_of_the_whole_decoded_file(tmp_path, hop, block):
  rate = 8000
  x = np.random.default_rng(0).uniform(-0.9, 0.9, size=int(5.3 * rate)).astype(np.float32)
  rec = _write(tmp_path / "a.wav", x, rate)
  spec = windows.WindowSpec(1.0, hop, rate)
  parts = list(windows.stream_windows(rec, spec, block_windows=block))
  starts = np.concatenate([p[0] for p in parts])
  ends = np.concatenate([p[1] for p in parts])
  audio = np.concatenate([p[2] for p in parts])
  whole = sf.read(str(tmp_path / "a.wav"), dtype="float32")[0]
  expected_count = int(np.ceil((5.3 - 1.0) / hop - 1e-9)) + 1
  assert len(starts) == expected_count == spec.count(rec.seconds)
  assert all(len(p[0]) <= block for p in parts)
  np.testing.assert_allclose(starts, np.arange(expected_count) * hop)
  for s, e, a in zip(starts, ends, audio):
    i = int(round(s * rate))
    piece = whole[i:i + rate]
    np.testing.assert_array_equal(a[:len(piece)], piece)
    np.testing.assert_array_equal(a[len(piece):], 0)  # the tail window is zero-padded
    assert e == pytest.approx(min(s + 1.0, 5.3))
  assert starts[-1] + 1.0 >= 5.3 and starts[-1] < 5.3  # every sample is in a window


def test_short_recording_is_one_padded_window_and_channels_average_or_pick(tmp_path):
  rate = 8000
  left = np.full(4000, 0.5, np.float32)
  right = np.full(4000, -0.25, np.float32)
  rec = _write(tmp_path / "st.flac", np.stack([left, right], 1), rate, subtype="PCM_24")
  spec = windows.WindowSpec(1.0, 1.0, rate)
  (starts, ends, audio), = windows.stream_windows(rec, spec)
  assert starts.tolist() == [0.0] and ends.tolist() == [0.5] and audio.shape == (1, 8000)
  np.testing.assert_allclose(audio[0, :4000], 0.125, atol=1e-6)
  (_, _, right_only), = windows.stream_windows(rec, spec, channel=1)
  np.testing.assert_allclose(right_only[0, :4000], -0.25, atol=1e-6)
  with pytest.raises(audio_io.AudioError, match="channel 2"):
    next(windows.stream_windows(rec, spec, channel=2))


def test_another_rate_is_resampled_window_by_window(tmp_path):
  x = np.sin(2 * np.pi * 440 * np.arange(3 * 22050) / 22050).astype(np.float32) * 0.5
  rec = _write(tmp_path / "r.wav", x, 22050)
  spec = windows.WindowSpec(1.0, 1.0, 16000)
  audio = np.concatenate([p[2] for p in windows.stream_windows(rec, spec)])
  assert audio.shape == (3, 16000)
  expected = audio_io.resample(x[22050:44100], 22050, 16000)
  np.testing.assert_allclose(audio[1], expected[:16000], atol=1e-6)


def test_find_recordings_sorts_by_relative_name_and_names_bad_files(tmp_path):
  (tmp_path / "site2").mkdir()
  (tmp_path / ".hidden").mkdir()
  for p in ("site2/b.wav", "a.flac", ".hidden/c.wav"):
    sf.write(str(tmp_path / p), np.zeros(800, np.float32), 8000)
  (tmp_path / "notes.txt").write_text("x")
  assert [r.name for r in windows.find_recordings(str(tmp_path))] == ["a.flac", "site2/b.wav"]
  (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
  with pytest.raises(audio_io.AudioError, match="bad.wav"):
    windows.find_recordings(str(tmp_path))
  with pytest.raises(ValueError, match="hop_seconds <= archive.window_seconds"):
    windows.WindowSpec(1.0, 2.0, 8000)
