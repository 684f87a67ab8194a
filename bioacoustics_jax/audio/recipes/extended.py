"""Input recipes of the backbones beyond the paper: ViT's 224x224 mel, wav2vec 2.0's normalised
waveform, PANNs CNN14's log-mel and Whisper's log-mel, each checked against its original's code.

- paper_mel3_224: paper_mel3 for torchvision's ViT, which takes only 224x224 images: the same
  batch-max mel (before the channel repeat) resized to 224 x 224 on both axes with an
  antialiased linear filter (torch's F.interpolate(bilinear, antialias=True); one weight matrix
  per axis, audio/frontend.py), then repeated to 3 channels. Output NHWC [B, 224, 224, 3].
- waveform16k_norm: transformers' Wav2Vec2FeatureExtractor with do_normalize=True (wav2vec 2.0
  and data2vec-audio checkpoints): each clip to zero mean and unit variance,
  (x - mean) / sqrt(var + 1e-7), at 16 kHz. [B, T]
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
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio.recipes.paper import batch_max_mel, waveform16k
from bioacoustics_jax.audio.recipes.registry import (InputRecipe, as_batch, register_recipe,
                                                     require_rate)


# torchvision's ViT takes square 224x224 images only (its position table is fixed).
VIT_IMAGE_SIZE = 224


def resize_mel(mel: jax.Array, size: int = VIT_IMAGE_SIZE) -> jax.Array:
  """[B, mels, frames] -> [B, size, size]: antialiased linear resize on both axes."""
  rows = jnp.asarray(frontend.linear_resize_matrix(mel.shape[1], size))
  cols = jnp.asarray(frontend.linear_resize_matrix(mel.shape[2], size))
  return jnp.einsum("om,bmt,pt->bop", rows, mel, cols, precision=jax.lax.Precision.HIGHEST)


def _paper_mel3_224(audio: jax.Array, sample_rate: int,
                    axis_name: str | None = None) -> jax.Array:
  mel = resize_mel(batch_max_mel(audio, sample_rate, "paper_mel3_224", axis_name))
  return jnp.repeat(mel[..., None], 3, axis=-1)


register_recipe(InputRecipe(
    name="paper_mel3_224", sample_rate=None, prepare=_paper_mel3_224,
    description="paper_mel3 resized to 224x224 (antialiased linear) for the fixed-size ViT; "
                "NHWC [B, 224, 224, 3]",
    uses_batch_statistics=True))


WAV2VEC2_NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm


def _waveform16k_norm(audio: jax.Array, sample_rate: int) -> jax.Array:
  audio = waveform16k(audio, sample_rate)
  mean = jnp.mean(audio, axis=-1, keepdims=True)
  var = jnp.mean(jnp.square(audio - mean), axis=-1, keepdims=True)
  return (audio - mean) / jnp.sqrt(var + WAV2VEC2_NORM_EPS)


register_recipe(InputRecipe(
    name="waveform16k_norm", sample_rate=16000, prepare=_waveform16k_norm,
    description="16 kHz waveform, each clip to zero mean / unit variance (wav2vec 2.0, "
                "data2vec-audio feature extractor) [B, T]"))


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
  require_rate("panns_logmel", PANNS_RATE, sample_rate)
  audio = as_batch(audio, "panns_logmel")
  mel = frontend.mel_spectrogram(audio, sample_rate, n_fft=PANNS_N_FFT, hop_length=PANNS_HOP,
                                 n_mels=PANNS_N_MELS, fmin=PANNS_FMIN, fmax=PANNS_FMAX,
                                 power=2.0, center=True, pad_mode="reflect")
  return jnp.swapaxes(frontend.power_to_db(mel, ref=1.0, amin=PANNS_AMIN, top_db=None), 1, 2)


register_recipe(InputRecipe(
    name="panns_logmel", sample_rate=PANNS_RATE, prepare=panns_log_mel,
    description="PANNs CNN14: 32 kHz log-mel in dB (1024/320, reflect-centred, 64 Slaney bands "
                "50-14000 Hz, no top_db); [B, frames, 64]"))


# ---------------------------------------------------------------------------------------------
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
  audio = as_batch(audio, "whisper_logmel")
  require_rate("whisper_logmel", WHISPER_RATE, sample_rate)
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
