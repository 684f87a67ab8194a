"""The MFCC baseline (recipe mfcc_logmel + MFCCStats) against librosa.feature.mfcc statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import scipy.fft

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.models import mfcc
from tests.models import parity_registry

parity_registry.PARITY_TESTED.add("mfcc")  # against librosa (read by tests/zoo/test_presets.py)


def _clip(rate: int, seconds: float, seed: int) -> np.ndarray:
  """A chirp in noise with an onset: varied enough that every coefficient moves over frames."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(rate * seconds)) / rate
  tone = np.sin(2 * np.pi * (500 + 1500 * t) * t) * (t > 0.3)
  return (0.5 * tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_dct_matches_scipy_ortho():
  x = np.random.default_rng(0).standard_normal((3, 16))
  np.testing.assert_allclose(x @ mfcc.dct_ii_matrix(16, 5),
                             scipy.fft.dct(x, type=2, norm="ortho", axis=-1)[:, :5], atol=1e-5)


@pytest.mark.parametrize("rate,n_mfcc", [(16000, 20), (22050, 13)])
def test_embedding_equals_librosa_mfcc_mean_and_std(rate, n_mfcc):
  clips = np.stack([_clip(rate, 1.5, 0), _clip(rate, 1.5, 1)])
  inputs = recipes.get_recipe("mfcc_logmel").prepare(jnp.asarray(clips), rate)
  module = mfcc.MFCCStats(n_mfcc=n_mfcc)
  variables = module.init(jax.random.key(0), inputs)
  assert not jax.tree_util.tree_leaves(variables)  # parameter-free
  embedding, intermediates = jax.jit(module.apply)(variables, inputs)
  assert embedding.shape == (2, 2 * n_mfcc)
  np.testing.assert_array_equal(intermediates["embedding"], embedding)
  for clip, ours in zip(clips, np.asarray(embedding)):
    reference = librosa.feature.mfcc(y=clip, sr=rate, n_mfcc=n_mfcc)  # [n_mfcc, frames]
    expected = np.concatenate([reference.mean(axis=1), reference.std(axis=1)])
    # Measured max |diff| 7.6e-6 on values up to ~80 (float32 FFT vs librosa's float64 dB).
    np.testing.assert_allclose(ours, expected, atol=1e-4)
