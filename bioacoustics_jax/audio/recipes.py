"""Input recipes: how raw audio becomes each model's input, registered by name.

A zoo preset's `recipe` names one of these. `prepare(audio [B, T] float32, sample_rate)`
runs inside the jitted embedding/training function (the sample rate is a Python int, static under
jit), so the whole frontend runs on the accelerator. `sample_rate` on the recipe is the rate the
input pipeline must deliver (None: the dataset's own rate, as BEANS does for its CNNs).

Recipes (PAPER.md, "Preprocessing"):
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
- paper_mel3_224: paper_mel3 for torchvision's ViT, which takes only 224x224 images: the same
  batch-max mel (before the channel repeat) resized to 224 x 224 on both axes with an
  antialiased linear filter (torch's F.interpolate(bilinear, antialias=True); one weight matrix
  per axis, audio/frontend.py), then repeated to 3 channels. Output NHWC [B, 224, 224, 3].
- vggish_logmel: torchvggish's `waveform_to_examples` at 16 kHz: 400-sample (25 ms) periodic Hann
  frames every 160 samples (10 ms) without padding, |rfft| on 512 points (magnitude, not power),
  64 HTK-mel triangles drawn in mel space from 125 to 7500 Hz (DC bin excluded), log(mel + 0.01),
  then non-overlapping 96-frame patches. Output [B, n_patches, 96, 64, 1].
- waveform16k / waveform: the raw waveform (HuBERT/AVES at 16 kHz; any model at the dataset rate).
- waveform16k_norm: transformers' Wav2Vec2FeatureExtractor with do_normalize=True (wav2vec 2.0
  and data2vec-audio checkpoints): each clip to zero mean and unit variance,
  (x - mean) / sqrt(var + 1e-7), at 16 kHz. [B, T]
- ast_fbank: transformers' ASTFeatureExtractor: 128-bin kaldi fbank at 16 kHz, padded with zeros
  (before normalisation, as the extractor does) or cropped to 1024 frames, then
  (x - mean) / (2 std) with the AudioSet statistics. Output [B, 1024, 128].
- panns_logmel: PANNs CNN14's torchlibrosa front end (Spectrogram + LogmelFilterBank as
  panns_inference's Cnn14 builds them) at 32 kHz: 1024-point periodic-Hann STFT every 320
  samples, centred with reflect padding, power 2, librosa's Slaney mel (64 bands, 50-14000 Hz),
  10 log10(max(x, 1e-10)) with ref 1 and no top_db. The model's own bn0 (over mel bins) follows
  inside the network. Output [B, frames, 64] (time first), frames = 1 + T // 320.
- whisper_logmel: transformers' WhisperFeatureExtractor (80 bins, 16 kHz): the clip cropped to
  30 s and zero-padded to 30 s, centred STFT (400-point periodic Hann, hop 160, reflect
  padding), power, 80 Slaney-scale, Slaney-normalised mel bands 0-8000 Hz, the last STFT frame
  dropped, log10(max(mel, 1e-10)), floored 8 below the clip's peak, (x + 4) / 4. Only the frames
  whose window touches the clip are returned (ceil((T + 200) / 160), at most 3000): the rest of
  the 30 s are one known value that models/whisper.py appends itself, so the model still knows
  the clip's length. Output [B, 80, frames].
- mfcc_logmel: the MFCC baseline's input (models/mfcc.py), at the dataset's own rate as in BEANS:
  librosa.power_to_db(librosa.feature.melspectrogram(y, sr)) with librosa's defaults (2048-point
  FFT, hop 512, periodic Hann, centred with zero padding, 128 Slaney mel bands 0..sr/2, power 2,
  ref 1, amin 1e-10, top_db 80 below each clip's own peak). Output [B, frames, 128] (time first).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import frontend

Prepare = Callable[[jax.Array, int], jax.Array]


@dataclasses.dataclass(frozen=True)
class InputRecipe:
  """A named audio -> model-input transform.

  Attributes:
    name: the recipe's name (what a zoo preset's `recipe` holds).
    sample_rate: the rate `prepare` expects; None means it accepts the dataset's own rate.
    prepare: `prepare(audio [B, T] float32, sample_rate: int) -> model input`, jittable with
      `sample_rate` static.
    description: one line for listings and reports.
    uses_batch_statistics: True when one example's output depends on the rest of its batch
      (paper_mel3 divides by the batch maximum). A data-parallel step must then run `prepare`
      on the whole global batch (all-gather) to match a single-device run; for the others each
      device can prepare its own shard.
  """

  name: str
  sample_rate: int | None
  prepare: Prepare
  description: str = ""
  uses_batch_statistics: bool = False


_RECIPES: dict[str, InputRecipe] = {}


def register_recipe(recipe: InputRecipe) -> InputRecipe:
  """Adds `recipe`; a second recipe under the same name is an error (no silent overrides)."""
  if recipe.name in _RECIPES:
    raise ValueError(f"Input recipe {recipe.name!r} is already registered.")
  _RECIPES[recipe.name] = recipe
  return recipe


def get_recipe(name: str) -> InputRecipe:
  if name not in _RECIPES:
    raise KeyError(f"Unknown input recipe {name!r}; known recipes: {names()}. Register new ones "
                   "with bioacoustics_jax.audio.recipes.register_recipe.")
  return _RECIPES[name]


def names() -> list[str]:
  return sorted(_RECIPES)


def _require_rate(recipe_name: str, expected: int, sample_rate: int) -> None:
  if sample_rate != expected:
    raise ValueError(f"Input recipe {recipe_name!r} needs audio at {expected} Hz, got "
                     f"{sample_rate} Hz; resample in the input pipeline (pass sample_rate="
                     f"recipe.sample_rate to the data loader).")


def _as_batch(audio: jax.Array, recipe_name: str) -> jax.Array:
  if audio.ndim != 2:
    raise ValueError(f"Input recipe {recipe_name!r} takes audio [batch, samples], got shape "
                     f"{audio.shape}.")
  return audio.astype(jnp.float32)


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


def _batch_max_mel(audio: jax.Array, sample_rate: int, name: str) -> jax.Array:
  mel = beans_mel(_as_batch(audio, name), sample_rate)
  peak = jnp.max(mel)
  # An all-silent batch would divide 0 by 0 in BEANS; keep it all zeros instead of NaN.
  return mel / jnp.where(peak > 0, peak, 1.0)


def _paper_mel3(audio: jax.Array, sample_rate: int) -> jax.Array:
  mel = _batch_max_mel(audio, sample_rate, "paper_mel3")
  return jnp.repeat(mel[..., None], 3, axis=-1)


register_recipe(InputRecipe(
    name="paper_mel3", sample_rate=None, prepare=_paper_mel3,
    description="BEANS CNN input: 128-bin torchaudio mel power, 100 frames/s, 3 channels, "
                "divided by the batch max; NHWC [B, 128, frames, 3]",
    uses_batch_statistics=True))

# torchvision's ViT takes square 224x224 images only (its position table is fixed).
VIT_IMAGE_SIZE = 224


def resize_mel(mel: jax.Array, size: int = VIT_IMAGE_SIZE) -> jax.Array:
  """[B, mels, frames] -> [B, size, size]: antialiased linear resize on both axes."""
  rows = jnp.asarray(frontend.linear_resize_matrix(mel.shape[1], size))
  cols = jnp.asarray(frontend.linear_resize_matrix(mel.shape[2], size))
  return jnp.einsum("om,bmt,pt->bop", rows, mel, cols, precision=jax.lax.Precision.HIGHEST)


def _paper_mel3_224(audio: jax.Array, sample_rate: int) -> jax.Array:
  mel = resize_mel(_batch_max_mel(audio, sample_rate, "paper_mel3_224"))
  return jnp.repeat(mel[..., None], 3, axis=-1)


register_recipe(InputRecipe(
    name="paper_mel3_224", sample_rate=None, prepare=_paper_mel3_224,
    description="paper_mel3 resized to 224x224 (antialiased linear) for the fixed-size ViT; "
                "NHWC [B, 224, 224, 3]",
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
  audio = _as_batch(audio, "vggish_logmel")
  _require_rate("vggish_logmel", VGGISH_RATE, sample_rate)
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


def _waveform16k(audio: jax.Array, sample_rate: int) -> jax.Array:
  _require_rate("waveform16k", 16000, sample_rate)
  return _as_batch(audio, "waveform16k")


def _waveform(audio: jax.Array, sample_rate: int) -> jax.Array:
  del sample_rate  # any rate: the model takes the dataset's own
  return _as_batch(audio, "waveform")


WAV2VEC2_NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm


def _waveform16k_norm(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = _waveform16k(audio, sample_rate)
  mean = jnp.mean(audio, axis=-1, keepdims=True)
  var = jnp.mean(jnp.square(audio - mean), axis=-1, keepdims=True)
  return (audio - mean) / jnp.sqrt(var + WAV2VEC2_NORM_EPS)


register_recipe(InputRecipe(
    name="waveform16k_norm", sample_rate=16000, prepare=_waveform16k_norm,
    description="16 kHz waveform, each clip to zero mean / unit variance (wav2vec 2.0, "
                "data2vec-audio feature extractor) [B, T]"))
register_recipe(InputRecipe(
    name="waveform16k", sample_rate=16000, prepare=_waveform16k,
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
  _require_rate("ast_fbank", 16000, sample_rate)
  audio = _as_batch(audio, "ast_fbank")
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
# panns_logmel (PANNs CNN14).
# ---------------------------------------------------------------------------------------------

# panns_inference's AudioTagging builds Cnn14(sample_rate=32000, window_size=1024, hop_size=320,
# mel_bins=64, fmin=50, fmax=14000); its torchlibrosa front end is fixed inside the model.
PANNS_RATE = 32000
PANNS_N_FFT = 1024
PANNS_HOP = 320
PANNS_N_MELS = 64
PANNS_FMIN = 50.0
PANNS_FMAX = 14000.0
PANNS_AMIN = 1e-10


def panns_mel_filterbank() -> np.ndarray:
  """[513, 64] float32: librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50,
  fmax=14000) transposed, torchlibrosa's `melW` (Slaney scale and area norm)."""
  return frontend.mel_filterbank(PANNS_RATE, PANNS_N_FFT, PANNS_N_MELS, PANNS_FMIN, PANNS_FMAX)


def panns_dft_kernels() -> tuple[np.ndarray, np.ndarray]:
  """(real, imag) [513, 1024] float32: the windowed one-sided DFT our STFT computes, i.e.
  torchlibrosa's STFT conv kernels (periodic Hann x exp(-2 pi i n k / N))."""
  n = np.arange(PANNS_N_FFT)
  k = np.arange(PANNS_N_FFT // 2 + 1)
  angle = 2.0 * np.pi * np.outer(k, n) / PANNS_N_FFT
  window = frontend.hann_window(PANNS_N_FFT, periodic=True)[None, :]
  return ((np.cos(angle) * window).astype(np.float32),
          (-np.sin(angle) * window).astype(np.float32))


def panns_log_mel(audio: jax.Array, sample_rate: int) -> jax.Array:
  """CNN14's input [B, frames, 64]: 10 log10(max(mel power, 1e-10)), no top_db clipping."""
  _require_rate("panns_logmel", PANNS_RATE, sample_rate)
  audio = _as_batch(audio, "panns_logmel")
  mel = frontend.mel_spectrogram(audio, sample_rate, n_fft=PANNS_N_FFT, hop_length=PANNS_HOP,
                                 n_mels=PANNS_N_MELS, fmin=PANNS_FMIN, fmax=PANNS_FMAX,
                                 power=2.0, center=True, pad_mode="reflect")
  return jnp.swapaxes(frontend.power_to_db(mel, ref=1.0, amin=PANNS_AMIN, top_db=None), 1, 2)


register_recipe(InputRecipe(
    name="panns_logmel", sample_rate=PANNS_RATE, prepare=panns_log_mel,
    description="PANNs CNN14: 32 kHz log-mel in dB (1024/320, reflect-centred, 64 Slaney bands "
                "50-14000 Hz, no top_db); [B, frames, 64]"))
# whisper_logmel.
# ---------------------------------------------------------------------------------------------

WHISPER_RATE = 16000
WHISPER_N_FFT = 400
WHISPER_HOP = 160
WHISPER_BINS = 80
WHISPER_SAMPLES = 30 * WHISPER_RATE  # chunk_length 30 s
WHISPER_FRAMES = WHISPER_SAMPLES // WHISPER_HOP


def whisper_frames(num_samples: int) -> tuple[int, int]:
  """(frames returned, samples they are computed from) for a clip of `num_samples`: the frames
  whose window touches the clip, and the clip zero-padded just far enough that those frames see
  what they see in the 30 s window (the whole 30 s when they reach its end)."""
  clip = min(num_samples, WHISPER_SAMPLES)
  frames = min(WHISPER_FRAMES, -(-(clip + WHISPER_N_FFT // 2) // WHISPER_HOP))
  if frames == WHISPER_FRAMES:
    return frames, WHISPER_SAMPLES
  return frames, WHISPER_HOP * (frames - 1) + WHISPER_N_FFT // 2 + 1


def whisper_filterbank() -> np.ndarray:
  """[201, 80] Slaney mel filters 0-8000 Hz (WhisperFeatureExtractor's mel_filters)."""
  return frontend.mel_filterbank(WHISPER_RATE, WHISPER_N_FFT, WHISPER_BINS, 0.0, 8000.0,
                                 htk=False, norm="slaney")


def _whisper_logmel(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = _as_batch(audio, "whisper_logmel")
  _require_rate("whisper_logmel", WHISPER_RATE, sample_rate)
  frames, length = whisper_frames(audio.shape[-1])
  audio = audio[:, :length]
  audio = jnp.pad(audio, ((0, 0), (0, length - audio.shape[-1])))
  power = frontend.power_spectrogram(audio, WHISPER_N_FFT, WHISPER_HOP, pad_mode="reflect")
  mel = jnp.einsum("bfk,km->bmf", power[:, :frames], jnp.asarray(whisper_filterbank()),
                   precision=jax.lax.Precision.HIGHEST)
  log_spec = jnp.log10(jnp.maximum(mel, 1e-10))
  peak = jnp.max(log_spec, axis=(1, 2), keepdims=True)
  return (jnp.maximum(log_spec, peak - 8.0) + 4.0) / 4.0


register_recipe(InputRecipe(
    name="whisper_logmel", sample_rate=WHISPER_RATE, prepare=_whisper_logmel,
    description="Whisper: WhisperFeatureExtractor's 80-bin log-mel at 16 kHz, the frames "
                "that touch the clip (<= 3000 of the 30 s window); [B, 80, frames]"))


# ---------------------------------------------------------------------------------------------
# mfcc_logmel (the handcrafted MFCC baseline).
# ---------------------------------------------------------------------------------------------

MFCC_N_FFT = 2048
MFCC_HOP = 512
MFCC_N_MELS = 128


def _mfcc_logmel(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = _as_batch(audio, "mfcc_logmel")
  mel = frontend.mel_spectrogram(audio, sample_rate, n_fft=MFCC_N_FFT, hop_length=MFCC_HOP,
                                 n_mels=MFCC_N_MELS)
  return jnp.swapaxes(frontend.power_to_db(mel), 1, 2)


register_recipe(InputRecipe(
    name="mfcc_logmel", sample_rate=None, prepare=_mfcc_logmel,
    description="MFCC baseline: librosa-default log-mel in dB (2048/512, 128 Slaney bands, "
                "top_db 80) at the dataset rate; [B, frames, 128]"))
