"""The paper's input recipes: BEANS' CNN mel, VGGish, raw waveforms (AVES/HuBERT), AST and the
MFCC baseline (PAPER.md, "Preprocessing").

- paper_mel3: the BEANS CNN input. torchaudio.transforms.MelSpectrogram(n_mels=128,
  n_fft=int(0.05 sr), hop=int(0.01 sr), power=2) with all other arguments at torchaudio's
  defaults (beans/datasets.py): win_length = n_fft, periodic Hann, center=True, reflect padding,
  HTK mel scale, norm=None, f_max = sr // 2. No log. Clips shorter than n_fft are zero-padded to
  n_fft first and the frames cropped to duration x 100, as BEANS does. The 1-channel image is
  repeated to 3 channels and divided by the maximum of the whole batch (beans/models.py
  `x /= x.max()`; guarded here against an all-zero batch). Output NHWC [B, 128, frames, 3]: the
  torch NCHW image is [B, 3, 128, frames], so H = mel bins (low to high), W = time.
  Note that this makes one example's input depend on its batch, exactly as in BEANS; under jit
  with a sharded batch the maximum is over the global batch.
- vggish_logmel: torchvggish's `waveform_to_examples` at 16 kHz: 400-sample (25 ms) periodic Hann
  frames every 160 samples (10 ms) without padding, |rfft| on 512 points (magnitude, not power),
  64 HTK-mel triangles drawn in mel space from 125 to 7500 Hz (DC bin excluded), log(mel + 0.01),
  then non-overlapping 96-frame patches. Output [B, n_patches, 96, 64, 1].
- waveform16k / waveform: the raw waveform (HuBERT/AVES at 16 kHz; any model at the dataset rate).
- ast_fbank: transformers' ASTFeatureExtractor: 128-bin kaldi fbank at 16 kHz, padded with zeros
  (before normalisation, as the extractor does) or cropped to 1024 frames, then
  (x - mean) / (2 std) with the AudioSet statistics. Output [B, 1024, 128].
- mfcc_logmel: the MFCC baseline's input (models/mfcc.py), at the dataset's own rate as in BEANS:
  librosa.power_to_db(librosa.feature.melspectrogram(y, sr)) with librosa's defaults (2048-point
  FFT, hop 512, periodic Hann, centred with zero padding, 128 Slaney mel bands 0..sr/2, power 2,
  ref 1, amin 1e-10, top_db 80 below each clip's own peak). Output [B, frames, 128] (time first).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio.recipes.registry import (InputRecipe, as_batch, batch_max,
                                                     register_recipe, require_rate)


# ---------------------------------------------------------------------------------------------
# paper_mel3 (BEANS CNNs).
# ---------------------------------------------------------------------------------------------

BEANS_FFT_SECONDS = 0.05
BEANS_HOP_SECONDS = 0.01
BEANS_N_MELS = 128


def beans_mel(audio: jax.Array, sample_rate: int) -> jax.Array:
  """BEANS' torchaudio mel spectrogram [B, 128, frames] (power, no log), 100 frames/s."""
  n_fft = int(BEANS_FFT_SECONDS * sample_rate)
  hop = int(BEANS_HOP_SECONDS * sample_rate)
  if n_fft < 2 or hop < 1:
    raise ValueError(f"sample rate {sample_rate} Hz is too low for the BEANS mel recipe")
  n_samples = audio.shape[-1]
  # BEANS crops the spectrogram to int(max_duration * 100) frames, and our clips are exactly the
  # clip length. Not T // hop: hop = int(0.01 sr) rounds down (220 at 22.05 kHz), which gives
  # slightly more than 100 frames per second.
  n_keep = max(1, (n_samples * 100) // sample_rate)
  if n_samples < n_fft:
    audio = jnp.pad(audio, ((0, 0), (0, n_fft - n_samples)))
  mel = frontend.mel_spectrogram(
      audio, sample_rate, n_fft=n_fft, hop_length=hop, n_mels=BEANS_N_MELS, power=2.0,
      center=True, pad_mode="reflect", htk=True, norm=None, bin_freqs="linspace")
  mel = mel[..., :n_keep]
  if mel.shape[-1] < n_keep:
    mel = jnp.pad(mel, ((0, 0), (0, 0), (0, n_keep - mel.shape[-1])))
  return mel


def batch_max_mel(audio: jax.Array, sample_rate: int, name: str,
                  axis_name: str | None = None) -> jax.Array:
  """beans_mel divided by its maximum over the batch (over all devices on `axis_name`)."""
  mel = beans_mel(as_batch(audio, name), sample_rate)
  peak = batch_max(mel, axis_name)
  # An all-silent batch would divide 0 by 0 in BEANS; keep it all zeros instead of NaN.
  return mel / jnp.where(peak > 0, peak, 1.0)


def _paper_mel3(audio: jax.Array, sample_rate: int, axis_name: str | None = None) -> jax.Array:
  mel = batch_max_mel(audio, sample_rate, "paper_mel3", axis_name)
  return jnp.repeat(mel[..., None], 3, axis=-1)


register_recipe(InputRecipe(
    name="paper_mel3", sample_rate=None, prepare=_paper_mel3,
    description="BEANS CNN input: 128-bin torchaudio mel power, 100 frames/s, 3 channels, "
                "divided by the batch max; NHWC [B, 128, frames, 3]",
    uses_batch_statistics=True))
# ---------------------------------------------------------------------------------------------
# vggish_logmel.
# ---------------------------------------------------------------------------------------------

VGGISH_RATE = 16000
VGGISH_PATCH_FRAMES = 96
VGGISH_BANDS = 64


def vggish_log_mel(audio: jax.Array) -> jax.Array:
  """VGGish log-mel frames [B, frames, 64] from 16 kHz audio (torchvggish mel_features)."""
  window_length, hop, n_fft = 400, 160, 512
  frames = frontend.frame(audio, window_length, hop)
  frames = frames * jnp.asarray(frontend.hann_window(window_length, periodic=True), jnp.float32)
  magnitude = jnp.abs(jnp.fft.rfft(frames, n=n_fft, axis=-1))
  fb = frontend.mel_space_filterbank(n_fft // 2 + 1, VGGISH_RATE, VGGISH_BANDS, 125.0, 7500.0,
                                     zero_dc=True)
  mel = jnp.einsum("bfk,km->bfm", magnitude, jnp.asarray(fb),
                   precision=jax.lax.Precision.HIGHEST)
  return jnp.log(mel + 0.01)


def _vggish_logmel(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = as_batch(audio, "vggish_logmel")
  require_rate("vggish_logmel", VGGISH_RATE, sample_rate)
  min_samples = 400 + 160 * (VGGISH_PATCH_FRAMES - 1)
  if audio.shape[-1] < min_samples:
    raise ValueError(f"vggish_logmel needs at least {min_samples} samples (0.975 s at 16 kHz) "
                     f"for one 96-frame patch, got {audio.shape[-1]}; use longer clips.")
  log_mel = vggish_log_mel(audio)
  n_patches = log_mel.shape[1] // VGGISH_PATCH_FRAMES
  log_mel = log_mel[:, :n_patches * VGGISH_PATCH_FRAMES]
  return log_mel.reshape(log_mel.shape[0], n_patches, VGGISH_PATCH_FRAMES, VGGISH_BANDS, 1)


register_recipe(InputRecipe(
    name="vggish_logmel", sample_rate=VGGISH_RATE, prepare=_vggish_logmel,
    description="VGGish: 16 kHz log-mel (25/10 ms, 64 HTK bands 125-7500 Hz), 96x64 patches; "
                "[B, n_patches, 96, 64, 1]"))


# ---------------------------------------------------------------------------------------------
# Raw waveforms.
# ---------------------------------------------------------------------------------------------


def waveform16k(audio: jax.Array, sample_rate: int) -> jax.Array:
  require_rate("waveform16k", 16000, sample_rate)
  return as_batch(audio, "waveform16k")


def _waveform(audio: jax.Array, sample_rate: int) -> jax.Array:
  del sample_rate  # any rate: the model takes the dataset's own
  return as_batch(audio, "waveform")


register_recipe(InputRecipe(
    name="waveform16k", sample_rate=16000, prepare=waveform16k,
    description="raw 16 kHz waveform [B, T] (HuBERT / AVES)"))
register_recipe(InputRecipe(
    name="waveform", sample_rate=None, prepare=_waveform,
    description="raw waveform at the dataset's rate [B, T]"))


# ---------------------------------------------------------------------------------------------
# ast_fbank.
# ---------------------------------------------------------------------------------------------

AST_MEAN = -4.2677393
AST_STD = 4.5689974
AST_MAX_LENGTH = 1024
AST_BINS = 128


def ast_features(audio: jax.Array, sample_rate: int = 16000, max_length: int = AST_MAX_LENGTH,
                 num_mel_bins: int = AST_BINS) -> jax.Array:
  """ASTFeatureExtractor's input_values [B, max_length, num_mel_bins] from 16 kHz audio."""
  require_rate("ast_fbank", 16000, sample_rate)
  audio = as_batch(audio, "ast_fbank")
  fbank = frontend.kaldi_fbank(audio, sample_rate, num_mel_bins=num_mel_bins)
  n_frames = fbank.shape[1]
  if n_frames < max_length:
    fbank = jnp.pad(fbank, ((0, 0), (0, max_length - n_frames), (0, 0)))
  fbank = fbank[:, :max_length]
  return (fbank - AST_MEAN) / (2.0 * AST_STD)


def _ast_fbank(audio: jax.Array, sample_rate: int) -> jax.Array:
  return ast_features(audio, sample_rate)


register_recipe(InputRecipe(
    name="ast_fbank", sample_rate=16000, prepare=_ast_fbank,
    description="AST: 128-bin kaldi fbank at 16 kHz, 1024 frames, AudioSet-normalised; "
                "[B, 1024, 128]"))


# ---------------------------------------------------------------------------------------------
# mfcc_logmel (the handcrafted MFCC baseline).
# ---------------------------------------------------------------------------------------------

MFCC_N_FFT = 2048
MFCC_HOP = 512
MFCC_N_MELS = 128


def _mfcc_logmel(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = as_batch(audio, "mfcc_logmel")
  mel = frontend.mel_spectrogram(audio, sample_rate, n_fft=MFCC_N_FFT, hop_length=MFCC_HOP,
                                 n_mels=MFCC_N_MELS)
  return jnp.swapaxes(frontend.power_to_db(mel), 1, 2)


register_recipe(InputRecipe(
    name="mfcc_logmel", sample_rate=None, prepare=_mfcc_logmel,
    description="MFCC baseline: librosa-default log-mel in dB (2048/512, 128 Slaney bands, "
                "top_db 80) at the dataset rate; [B, frames, 128]"))
