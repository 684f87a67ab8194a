"""Input recipes against their reference implementations.

- paper_mel3: librosa STFT power (reflect centre padding, periodic Hann, = torch.stft) times the
  torchaudio-placement HTK filterbank (transformers' port of torchaudio's), cropped to
  int(seconds * 100) frames,
  / batch max, 3 channels. Tolerance max|a-b|/max|b| <= 1e-4.
- vggish_logmel: a plain numpy transcription of torchvggish's algorithm (loop over frames,
  np.fft.rfft, transformers' mel-space filterbank with the DC row zeroed); max abs diff on the
  log-mel <= 1e-3.
- ast_fbank: transformers.ASTFeatureExtractor (numpy path: torchaudio is not installed); max abs
  diff on the normalised features <= 5e-4 (observed ~6e-5: float32 FFT vs float64).
"""

import warnings

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
from transformers import ASTFeatureExtractor, Wav2Vec2FeatureExtractor, WhisperFeatureExtractor
from transformers.audio_utils import mel_filter_bank

from bioacoustics_jax.audio import recipes


def _audio(sample_rate: int, seconds: float, batch: int = 2, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  n = int(round(sample_rate * seconds))
  audio = 0.1 * rng.standard_normal((batch, n))
  audio[0] += 0.3 * np.sin(2 * np.pi * 1000.0 * np.arange(n) / sample_rate)
  audio[-1] *= 0.25  # a quieter clip: the batch max must come from the loud one
  return audio.astype(np.float32)


def _beans_reference(audio: np.ndarray, sample_rate: int) -> np.ndarray:
  n_fft, hop = int(0.05 * sample_rate), int(0.01 * sample_rate)
  n_keep = max(1, int(audio.shape[1] / sample_rate * 100))  # BEANS: int(max_duration * 100)
  if audio.shape[1] < n_fft:
    audio = np.pad(audio, ((0, 0), (0, n_fft - audio.shape[1])))
  power = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop, center=True,
                              pad_mode="reflect")) ** 2
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fb = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=128,
                         min_frequency=0.0, max_frequency=sample_rate // 2,
                         sampling_rate=sample_rate, norm=None, mel_scale="htk")
  mel = np.einsum("bkf,km->bmf", power, fb)[..., :n_keep]
  mel = mel / mel.max()
  return np.repeat(mel[..., None], 3, axis=-1)


@pytest.mark.parametrize("sample_rate", (9600, 22050, 44100, 192000))
def test_paper_mel3_matches_beans(sample_rate):
  audio = _audio(sample_rate, 0.6)
  recipe = recipes.get_recipe("paper_mel3")
  assert recipe.sample_rate is None
  prepare = jax.jit(recipe.prepare, static_argnums=1)
  ours = np.asarray(prepare(jnp.asarray(audio), sample_rate))
  ref = _beans_reference(audio, sample_rate)
  assert ours.shape == (2, 128, 60, 3)  # NHWC: H = mels, W = 100 frames/s
  assert ours.shape == ref.shape
  assert np.abs(ours - ref).max() / np.abs(ref).max() <= 1e-4
  assert ours.max() == pytest.approx(1.0)


def test_paper_mel3_keeps_100_frames_per_second_when_hop_rounds_down():
  # hop = int(0.01 * 22050) = 220 gives 1002 frames for 10 s; BEANS keeps the first 1000.
  audio = _audio(22050, 10.0, batch=1)
  ours = np.asarray(recipes.get_recipe("paper_mel3").prepare(jnp.asarray(audio), 22050))
  ref = _beans_reference(audio, 22050)
  assert ours.shape == ref.shape == (1, 128, 1000, 3)
  assert np.abs(ours - ref).max() <= 1e-4


def test_paper_mel3_short_clip_and_silence():
  recipe = recipes.get_recipe("paper_mel3")
  short = _audio(16000, 0.03)  # shorter than n_fft = 800: zero-padded like BEANS
  ours = np.asarray(recipe.prepare(jnp.asarray(short), 16000))
  ref = _beans_reference(short, 16000)
  assert ours.shape == ref.shape == (2, 128, 3, 3)
  assert np.abs(ours - ref).max() <= 1e-4
  silent = np.asarray(recipe.prepare(jnp.zeros((2, 1600)), 16000))
  assert np.all(silent == 0.0)  # no NaN from 0 / 0


def _vggish_reference(audio: np.ndarray) -> np.ndarray:
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fb = mel_filter_bank(num_frequency_bins=257, num_mel_filters=64, min_frequency=125.0,
                         max_frequency=7500.0, sampling_rate=16000, norm=None,
                         mel_scale="htk", triangularize_in_mel_space=True)
  fb[0] = 0.0
  out = []
  for clip in audio.astype(np.float64):
    n_frames = 1 + (len(clip) - 400) // 160
    frames = np.stack([clip[i * 160:i * 160 + 400] for i in range(n_frames)])
    log_mel = np.log(np.abs(np.fft.rfft(frames * window, 512)) @ fb + 0.01)
    n_patches = n_frames // 96
    out.append(log_mel[:n_patches * 96].reshape(n_patches, 96, 64, 1))
  return np.stack(out)


def test_vggish_logmel_matches_torchvggish_algorithm():
  audio = _audio(16000, 2.1)
  recipe = recipes.get_recipe("vggish_logmel")
  assert recipe.sample_rate == 16000
  ours = np.asarray(jax.jit(recipe.prepare, static_argnums=1)(jnp.asarray(audio), 16000))
  ref = _vggish_reference(audio)
  assert ours.shape == ref.shape == (2, 2, 96, 64, 1)
  assert np.abs(ours - ref).max() <= 1e-3


def test_ast_fbank_matches_transformers_extractor():
  extractor = ASTFeatureExtractor()
  recipe = recipes.get_recipe("ast_fbank")
  prepare = jax.jit(recipe.prepare, static_argnums=1)
  for seconds in (1.0, 10.5):  # padded to 1024 frames, and cropped
    audio = _audio(16000, seconds, batch=2 if seconds < 5 else 1)
    ref = np.stack(extractor(list(audio), sampling_rate=16000,
                             return_tensors="np")["input_values"])
    ours = np.asarray(prepare(jnp.asarray(audio), 16000))
    assert ours.shape == ref.shape == (len(audio), 1024, 128)
    assert np.abs(ours - ref).max() <= 5e-4


def test_waveform_recipes_pass_audio_through():
  audio = _audio(16000, 0.1)
  np.testing.assert_array_equal(recipes.get_recipe("waveform16k").prepare(audio, 16000), audio)
  np.testing.assert_array_equal(recipes.get_recipe("waveform").prepare(audio, 44100), audio)
  assert recipes.get_recipe("waveform").sample_rate is None


def test_waveform16k_norm_matches_wav2vec2_feature_extractor():
  extractor = Wav2Vec2FeatureExtractor(do_normalize=True)
  audio = _audio(16000, 0.5) * np.float32(3.0) + np.float32(0.2)  # off-centre, loud
  ref = np.stack(extractor(list(audio), sampling_rate=16000, return_tensors="np")["input_values"])
  ours = np.asarray(recipes.get_recipe("waveform16k_norm").prepare(jnp.asarray(audio), 16000))
  assert ours.shape == ref.shape
  assert np.abs(ours - ref).max() <= 1e-5


def test_whisper_logmel_matches_whisper_feature_extractor():
  """The clip's frames equal WhisperFeatureExtractor's (30 s padded) features, for a clip
  shorter than one window, a typical one and one longer than 30 s (cropped)."""
  extractor = WhisperFeatureExtractor()
  np.testing.assert_allclose(recipes.whisper_filterbank(), extractor.mel_filters, atol=1e-8)
  prepare = jax.jit(recipes.get_recipe("whisper_logmel").prepare, static_argnums=1)
  for seconds, frames in [(0.01, 3), (1.0, 102), (30.5, 3000)]:
    audio = _audio(16000, seconds, batch=1)
    ref = extractor(list(audio), sampling_rate=16000, return_tensors="np")["input_features"]
    ours = np.asarray(prepare(jnp.asarray(audio), 16000))
    assert ours.shape == (1, 80, frames)
    assert np.abs(ours - ref[..., :frames]).max() <= 1e-5


def test_clap_logmel_matches_clap_feature_extractor():
  """clap_logmel equals ClapFeatureExtractor with the hub's settings (rand_trunc, repeatpad,
  50-14000 Hz) for a short clip (repeat-padded), an exact 10 s one and a longer one (ours: its
  first 10 s; the extractor's crop is random, so it is given that crop)."""
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from transformers import ClapFeatureExtractor  # pylint: disable=g-import-not-at-top
  extractor = ClapFeatureExtractor(frequency_min=50, frequency_max=14000, truncation="rand_trunc",
                                   padding="repeatpad")
  np.testing.assert_allclose(recipes.clap_filterbank(), extractor.mel_filters_slaney, atol=1e-8)
  prepare = jax.jit(recipes.get_recipe("clap_logmel").prepare, static_argnums=1)
  for seconds in (1.3, 10.0, 10.5):
    audio = 0.1 * _audio(48000, seconds, batch=1)
    ref = extractor(list(audio[:, :recipes.CLAP_SAMPLES]), sampling_rate=48000,
                    return_tensors="np")["input_features"]
    ours = np.asarray(prepare(jnp.asarray(audio), 48000))
    assert ref.shape == (1, 1, 1001, 64) and ours.shape == (1, 1001, 64)
    assert np.abs(ours - ref[:, 0]).max() <= 1e-3, seconds  # dB


def test_registry_and_errors():
  assert {"paper_mel3", "vggish_logmel", "waveform16k", "waveform", "ast_fbank"} <= set(
      recipes.names())
  assert [n for n in recipes.names() if recipes.get_recipe(n).uses_batch_statistics] == [
      "paper_mel3", "paper_mel3_224"]
  with pytest.raises(KeyError, match="known input recipes.*paper_mel3"):
    recipes.get_recipe("nope")
  with pytest.raises(ValueError, match="already registered"):
    recipes.register_recipe(recipes.get_recipe("waveform"))
  with pytest.raises(ValueError, match="needs audio at 16000 Hz, got 44100"):
    recipes.get_recipe("vggish_logmel").prepare(jnp.zeros((1, 44100)), 44100)
  with pytest.raises(ValueError, match="at least 15600 samples"):
    recipes.get_recipe("vggish_logmel").prepare(jnp.zeros((1, 8000)), 16000)
  with pytest.raises(ValueError, match=r"\[batch, samples\]"):
    recipes.get_recipe("paper_mel3").prepare(jnp.zeros(8000), 16000)


def test_a_recipe_with_batch_statistics_takes_axis_name():
  # Data-parallel callers pass axis_name so the statistic covers every device's rows; a recipe
  # that used batch statistics without taking it would silently differ per device.
  with pytest.raises(ValueError, match="axis_name"):
    recipes.InputRecipe(name="t", sample_rate=None, prepare=lambda a, r: a / a.max(),
                        uses_batch_statistics=True)
  with pytest.raises(ValueError, match="axis_name"):
    recipes.InputRecipe(name="t", sample_rate=None, prepare=lambda a, r, axis_name=None: a)
  per_example = recipes.get_recipe("waveform16k").prepare
  assert recipes.on_devices(per_example, "data") is per_example
  batch = recipes.get_recipe("paper_mel3").prepare
  assert recipes.on_devices(batch, "data").keywords == {"axis_name": "data"}
