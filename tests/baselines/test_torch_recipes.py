"""The torch input recipes against their jnp twins (audio/recipes.py) on the same audio."""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.baselines import torch_recipes

# (recipe, sample rate, samples, max abs diff allowed). paper_mel3 is in [0, 1] (batch max);
# 44.1 kHz has an odd n_fft (2205) and a clip shorter than n_fft takes the zero-pad path.
# The log recipes are compared in log units: float32 FFTs of two libraries differ by ~1e-6
# relative, which near the log floor of the AST fbank reaches ~2e-5.
CASES = [
    ("paper_mel3", 22050, 22050, 1e-5),
    ("paper_mel3", 44100, 30000, 1e-5),
    ("paper_mel3", 16000, 500, 1e-5),
    ("paper_mel3_224", 22050, 44100, 1e-5),
    ("paper_mel3_224", 16000, 1000, 1e-5),
    ("vggish_logmel", 16000, 32000, 1e-4),
    ("ast_fbank", 16000, 16000, 1e-4),
    ("waveform16k", 16000, 1000, 0.0),
    ("waveform16k_norm", 16000, 1000, 1e-5),
    ("whisper_logmel", 16000, 16000, 1e-5),
    ("clap_logmel", 48000, 30000, 1e-3),  # dB; repeat-padded to 10 s
    ("clap_logmel", 48000, 490000, 1e-3),  # longer than 10 s: the first 10 s
    ("waveform", 8000, 700, 0.0),
    ("birdset_mel", 32000, 16000, 1e-3),  # normalised dB
]


def _audio(samples, batch=3, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(samples) / 8000.0
  tone = np.sin(2 * np.pi * 440.0 * (1 + np.arange(batch))[:, None] * t)
  return (0.3 * tone + 0.1 * rng.normal(size=(batch, samples))).astype(np.float32)


def _jnp_in_torch_layout(name, out):
  out = np.asarray(out)
  if name in ("paper_mel3", "paper_mel3_224", "birdset_mel"):
    return out.transpose(0, 3, 1, 2)  # NHWC -> NCHW
  if name == "vggish_logmel":
    return out.transpose(0, 1, 4, 2, 3)  # [B, P, 96, 64, 1] -> [B, P, 1, 96, 64]
  return out


@pytest.mark.parametrize("name,rate,samples,tol", CASES)
def test_matches_jnp_recipe(name, rate, samples, tol):
  audio = _audio(samples)
  expected = _jnp_in_torch_layout(
      name, jax.jit(lambda a: recipes.get_recipe(name).prepare(a, rate))(audio))
  got = torch_recipes.get_torch_recipe(name)(audio, rate)
  assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
  assert tuple(got.shape) == expected.shape
  diff = float(np.max(np.abs(got.numpy() - expected)))
  assert diff <= tol, f"{name} at {rate} Hz: max abs diff {diff} > {tol}"


def test_panns_twin_hands_cnn14_the_waveform():
  """Cnn14 computes its own log-mel (torchlibrosa); that front end is checked against the jnp
  recipe in tests/models/test_cnn14.py."""
  audio = _audio(32000)
  np.testing.assert_array_equal(torch_recipes.get_torch_recipe("panns_logmel")(audio, 32000),
                                audio)
  with pytest.raises(ValueError, match="needs audio at 32000 Hz"):
    torch_recipes.get_torch_recipe("panns_logmel")(audio, 16000)


def test_every_jnp_recipe_has_a_torch_twin():
  """All but those whose models have no PyTorch reference and so no torch cell: the MFCC
  baseline (no network; its recipe is checked against librosa, tests/models/test_mfcc.py) and
  the Perch models (TF originals; their front ends are checked against tf.signal,
  tests/audio/test_recipes_perch.py)."""
  from bioacoustics_jax.zoo import presets  # pylint: disable=g-import-not-at-top
  with_torch = {p.recipe for p in presets.PRESETS if p.reference}
  no_torch = {p.recipe for p in presets.PRESETS} - with_torch
  assert no_torch >= {"mfcc_logmel", "perch_logmel", "perch_pcen"}
  assert set(torch_recipes.names()) == set(recipes.names()) - no_torch


def test_paper_mel3_divides_by_the_batch_max_and_keeps_silence_finite():
  audio = _audio(22050, batch=2)
  alone = torch_recipes.paper_mel3(audio[:1], 22050)
  together = torch_recipes.paper_mel3(np.concatenate([audio[:1], 10 * audio[1:]]), 22050)
  assert float(together.max()) == pytest.approx(1.0)
  # The loud second clip sets the scale, so the first one's input shrinks (BEANS' x /= x.max()).
  assert float(together[0].max()) < 0.1 * float(alone.max())
  silent = torch_recipes.paper_mel3(np.zeros((2, 22050), np.float32), 22050)
  assert torch.all(silent == 0)
  assert torch.equal(silent[:, 0], silent[:, 2])  # three identical channels


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match="needs audio at 16000 Hz"):
    torch_recipes.get_torch_recipe("vggish_logmel")(_audio(32000), 22050)
  with pytest.raises(ValueError, match=r"\[batch, samples\]"):
    torch_recipes.paper_mel3(np.zeros(1000, np.float32), 16000)
  with pytest.raises(ValueError, match="at least 15600 samples"):
    torch_recipes.get_torch_recipe("vggish_logmel")(_audio(8000), 16000)
  with pytest.raises(KeyError, match="paper_mel3"):
    torch_recipes.get_torch_recipe("nope")
