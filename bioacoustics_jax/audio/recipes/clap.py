"""CLAP's input recipe: transformers' ClapFeatureExtractor as laion/clap-htsat-unfused uses it.

- clap_logmel (48 kHz): each clip to exactly 10 s (480,000 samples). A shorter clip is
  "repeatpad"ded: tiled int(480000 / T) times, then zero-padded to 10 s. A longer one is cut to
  its first 10 s: the extractor's "rand_trunc" takes a random 10 s crop, a training-time
  augmentation that would make embeddings depend on a random draw; the deterministic first crop
  is our choice, not the original's. Then a centred STFT (1024-point periodic Hann, hop 480,
  reflect padding), power 2, 64 Slaney-scale, Slaney-normalised mel bands 50-14000 Hz
  (`mel_filters_slaney`, the bank the extractor uses for "rand_trunc"), max(mel, 1e-10),
  10 log10 (dB, reference 1, no top_db). Output [B, 1001, 64] (time first, the extractor's
  `input_features[:, 0]`). The model's BatchNorm over bins and the bicubic 1001 -> 1024 resize
  follow inside the network (models/clap.py), as in transformers.
The extractor's settings in the hub's preprocessor_config.json (rand_trunc, repeatpad, 50-14000
Hz, no top_db) are the published CLAP values as other projects quote them; ClapFeatureExtractor's
own defaults differ (fusion, 0 Hz): tests/audio/test_recipes.py builds it with the hub values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio.recipes.registry import (InputRecipe, as_batch, register_recipe,
                                                     require_rate)

CLAP_RATE = 48000
CLAP_SAMPLES = 10 * CLAP_RATE  # max_length_s 10
CLAP_N_FFT = 1024
CLAP_HOP = 480
CLAP_N_MELS = 64
CLAP_FMIN = 50.0
CLAP_FMAX = 14000.0
CLAP_FRAMES = 1 + CLAP_SAMPLES // CLAP_HOP  # 1001


def clap_filterbank() -> np.ndarray:
  """[513, 64] ClapFeatureExtractor.mel_filters_slaney (Slaney scale and norm, 50-14000 Hz)."""
  return frontend.mel_filterbank(CLAP_RATE, CLAP_N_FFT, CLAP_N_MELS, CLAP_FMIN, CLAP_FMAX,
                                 htk=False, norm="slaney")


def repeat_pad(audio: jax.Array, length: int = CLAP_SAMPLES) -> jax.Array:
  """The extractor's "repeatpad" (shorter clips) / our first-crop truncation (longer ones)."""
  samples = audio.shape[-1]
  if samples >= length:
    return audio[:, :length]
  audio = jnp.tile(audio, (1, length // samples))
  return jnp.pad(audio, ((0, 0), (0, length - audio.shape[-1])))


def clap_log_mel(audio: jax.Array, sample_rate: int) -> jax.Array:
  """[B, T] 48 kHz -> [B, 1001, 64] dB log-mel, CLAP's `input_features` (one channel)."""
  require_rate("clap_logmel", CLAP_RATE, sample_rate)
  audio = repeat_pad(as_batch(audio, "clap_logmel"))
  power = frontend.power_spectrogram(audio, CLAP_N_FFT, CLAP_HOP, pad_mode="reflect")
  mel = jnp.einsum("bfk,km->bfm", power, jnp.asarray(clap_filterbank()),
                   precision=jax.lax.Precision.HIGHEST)
  return 10.0 * jnp.log10(jnp.maximum(mel, 1e-10))


register_recipe(InputRecipe(
    name="clap_logmel", sample_rate=CLAP_RATE, prepare=clap_log_mel,
    description="CLAP: ClapFeatureExtractor's 48 kHz log-mel (10 s repeat-padded, 1024/480, 64 "
                "Slaney bands 50-14000 Hz, dB); [B, 1001, 64]"))
