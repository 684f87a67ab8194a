"""BirdSet's spectrogram front end (DBD-research-group/BirdSet), for its ConvNeXt checkpoints.

- birdset_mel: BirdSet's `ConvNextBirdSet.preprocess` (birdset/modules/models/birdset_models/
  convnext_bs.py) at 32 kHz: torchaudio `Spectrogram(n_fft=1024, hop_length=320, power=2.0)`
  (1024-point periodic Hann, centred with reflect padding), `MelScale(n_mels=128, n_stft=513,
  sample_rate=32000)` (HTK mel scale, no area normalisation, 0-16000 Hz), BirdSet's
  `PowerToDB(top_db=80)` (10 log10(max(x, 1e-10)) with ref 1, floored 80 dB below the peak),
  then `Normalize((-4.268,), (4.569,))`. Output NHWC [B, 128 mel bins, frames, 1] (torch's
  [B, 1, 128, frames]), frames = 1 + T // 320 (501 for BirdSet's 5 s clips).

One named difference: BirdSet's PowerToDB takes the peak over the whole tensor it is given, so
on a batch one clip's floor depends on the loudest clip of the batch; here the peak is each
clip's own (frontend.power_to_db), which equals BirdSet's result for one clip at a time (its
model card's inference example) and keeps an embedding independent of its batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio.recipes.registry import (InputRecipe, as_batch, register_recipe,
                                                     require_rate)

BIRDSET_RATE = 32000
BIRDSET_N_FFT = 1024
BIRDSET_HOP = 320
BIRDSET_N_MELS = 128
BIRDSET_TOP_DB = 80.0
# transforms.Normalize((-4.268,), (4.569,)): the dB spectrogram's mean and std (BirdSet).
BIRDSET_MEAN = -4.268
BIRDSET_STD = 4.569


def birdset_mel(audio: jax.Array, sample_rate: int) -> jax.Array:
  """[B, T] at 32 kHz -> NHWC [B, 128, frames, 1], BirdSet's normalised dB mel."""
  require_rate("birdset_mel", BIRDSET_RATE, sample_rate)
  audio = as_batch(audio, "birdset_mel")
  mel = frontend.mel_spectrogram(audio, sample_rate, n_fft=BIRDSET_N_FFT,
                                 hop_length=BIRDSET_HOP, n_mels=BIRDSET_N_MELS, power=2.0,
                                 center=True, pad_mode="reflect", htk=True, norm=None,
                                 bin_freqs="linspace")
  db = frontend.power_to_db(mel, ref=1.0, amin=1e-10, top_db=BIRDSET_TOP_DB)
  return ((db - BIRDSET_MEAN) / BIRDSET_STD)[..., None]


register_recipe(InputRecipe(
    name="birdset_mel", sample_rate=BIRDSET_RATE, prepare=birdset_mel,
    description="BirdSet: 32 kHz power mel (1024/320, reflect-centred, 128 HTK bands), dB with "
                "top_db 80 per clip, (x + 4.268) / 4.569; NHWC [B, 128, frames, 1]"))
