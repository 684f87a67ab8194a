"""Augmentation: SNR mixing, replayable host draws, SpecAugment masks, mixup, folder bank."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import augment
from bioacoustics_jax.train import config as config_lib


def test_mix_at_snr_hits_the_requested_snr():
  rng = np.random.default_rng(0)
  signal, noise = rng.normal(size=4000), 3 * rng.normal(size=4000)
  mixed = augment.mix_at_snr(signal, noise, 6.0)
  added = mixed - signal
  assert 10 * np.log10(np.mean(signal**2) / np.mean(added**2)) == pytest.approx(6.0, abs=1e-3)
  assert np.array_equal(augment.mix_at_snr(np.zeros(10), noise[:10], 0.0), np.zeros(10))


def test_host_augment_is_replayable_and_skips_padding():
  cfg = config_lib.augment_config()
  cfg.update(dict(background_prob=1.0, time_shift_seconds=0.01))
  bank = augment.BackgroundBank(np.random.default_rng(1).normal(size=(3, 500)), 1000)
  batch = {"audio": np.ones((4, 400), np.float32), "mask": np.array([1, 1, 1, 0], bool),
           "label": np.zeros(4, np.int32)}
  a = augment.host_augment(batch, augment.batch_rng(42, 1, 3), cfg, 1000, bank)
  b = augment.host_augment(batch, augment.batch_rng(42, 1, 3), cfg, 1000, bank)
  c = augment.host_augment(batch, augment.batch_rng(42, 1, 4), cfg, 1000, bank)
  np.testing.assert_array_equal(a["audio"], b["audio"])
  assert not np.array_equal(a["audio"], c["audio"])
  assert not np.array_equal(a["audio"][0], batch["audio"][0])
  np.testing.assert_array_equal(a["audio"][3], batch["audio"][3])  # padding untouched
  with pytest.raises(ValueError, match="BackgroundBank"):
    augment.host_augment(batch, augment.batch_rng(0, 0, 0), cfg, 1000, None)


def test_background_bank_from_folder_and_batches(tmp_path):
  audio_io.write_wav(str(tmp_path / "n.wav"), np.random.default_rng(0).normal(
      size=2500).astype(np.float32) * 0.1, 1000)
  bank = augment.BackgroundBank.from_folder(str(tmp_path), 1000, 1000)
  assert bank.clips.shape == (2, 1000)
  with pytest.raises(FileNotFoundError, match="background_dir"):
    augment.BackgroundBank.from_folder(str(tmp_path / "none"), 1000, 1000)
  batch = {"audio": np.ones((3, 10)), "mask": np.array([1, 1, 0], bool),
           "label": np.array([[0, 0], [1, 0], [0, 0]], np.float32)}
  assert augment.BackgroundBank.from_batches([batch], 1000).clips.shape == (1, 10)


def test_spec_augment_masks_bands_and_spans():
  cfg = ml_collections.ConfigDict(dict(freq_masks=1, freq_mask_width=5, time_masks=2,
                                       time_mask_width=7, mixup_alpha=0.0))
  x = jnp.ones((16, 32, 40, 3))
  y = np.asarray(augment.spec_augment(x, jax.random.key(0), cfg))
  zero_f = (y == 0).all(axis=(2, 3)).sum(axis=1)  # fully masked frequency rows per example
  zero_t = (y == 0).all(axis=(1, 3)).sum(axis=1)
  assert zero_f.max() <= 5 and zero_t.max() <= 14 and (zero_f + zero_t).sum() > 0
  assert set(np.unique(y)) <= {0.0, 1.0}
  with pytest.raises(ValueError, match="spectrogram"):
    augment.spec_augment(jnp.ones((2, 100)), jax.random.key(0), cfg)


def test_mixup_blends_inputs_and_targets_with_one_lambda():
  x = jnp.arange(8.0)[:, None] * jnp.ones((8, 4))
  t = jnp.eye(8)
  mx, mt = augment.mixup(x, t, jax.random.key(3), 0.4)
  np.testing.assert_allclose(mt.sum(axis=1), 1.0, rtol=1e-6)
  lam = float(mt.max(axis=1).min())
  assert 0.0 < lam <= 1.0
  np.testing.assert_allclose(mx[:, 0], (mt * jnp.arange(8.0)).sum(axis=1), rtol=1e-5)
