"""The input recipes of audio/recipes.py, written in PyTorch (torch.stft, torch.fft) for baselines.

The PyTorch baselines must see what the paper's PyTorch code saw, computed the way PyTorch
computes it, so that a difference between a `torch:<model>` row and its JAX row is a difference
of the frameworks' models, not of two frontends drifting apart. Window and filterbank matrices
are the SAME numpy arrays the jnp frontend uses (audio/frontend.py builds and checks them against
librosa / torchaudio / transformers); only the signal processing (framing, padding, FFT,
projection, normalisation) is redone in torch. tests/baselines/test_torch_recipes.py compares
each recipe here with its jnp twin on the same audio.

Every recipe takes a float32 tensor [B, T] and a Python int sample rate, and returns what the
PyTorch reference model of the matching zoo preset consumes:

  paper_mel3      [B, 3, 128, frames]  NCHW image for the torchvision CNNs (the jnp recipe's NHWC
                                       [B, 128, frames, 3] transposed), divided by the batch max
  paper_mel3_224  [B, 3, 224, 224]     the same mel resized for torchvision's ViT
  vggish_logmel   [B, P, 1, 96, 64]    one NCHW image per 0.96 s patch (torchvggish's layout)
  ast_fbank       [B, 1024, 128]       ASTModel's input_values
  panns_logmel    [B, T]               raw 32 kHz audio: Cnn14 runs its own torchlibrosa log-mel
  waveform16k     [B, T]               raw 16 kHz audio (HuBERT / AVES)
  waveform16k_norm [B, T]              16 kHz audio, each clip zero-mean / unit-variance
  waveform        [B, T]               raw audio at the dataset's rate
  whisper_logmel  [B, 80, frames]      WhisperEncoder's input_features, the clip's frames only
  clap_logmel     [B, 1001, 64]        CLAP's input_features without their channel axis
"""

from __future__ import annotations

from typing import Callable

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import numpy as np
import torch

from bioacoustics_jax import registry
from bioacoustics_jax.audio import frontend
from bioacoustics_jax.audio import recipes as jnp_recipes

TorchPrepare = Callable[[torch.Tensor, int], torch.Tensor]

# The torch `prepare(audio [B, T], sample_rate)` of each recipe name.
TORCH_RECIPES: registry.Registry[TorchPrepare] = registry.Registry(
    "PyTorch input recipe", hint="Add one in bioacoustics_jax/baselines/torch_recipes.py (and a "
    "test against the jnp recipe).")
get_torch_recipe = TORCH_RECIPES.__getitem__
names = TORCH_RECIPES.names


def _register(name: str):
  def wrap(fn: TorchPrepare) -> TorchPrepare:
    jnp_recipes.get_recipe(name)  # a torch twin of a recipe that does not exist is a typo
    return TORCH_RECIPES.register(name, fn)
  return wrap


def _as_batch(audio, recipe_name: str) -> torch.Tensor:
  if not torch.is_tensor(audio):
    # tf.data hands out read-only arrays; torch needs its own (writable) copy.
    audio = torch.from_numpy(np.array(audio, dtype=np.float32))
  if audio.ndim != 2:
    raise ValueError(f"Input recipe {recipe_name!r} takes audio [batch, samples], got shape "
                     f"{tuple(audio.shape)}.")
  return audio.to(torch.float32)


def _const(array: np.ndarray) -> torch.Tensor:
  return torch.from_numpy(np.asarray(array, np.float32))


# ---------------------------------------------------------------------------------------------
# paper_mel3: torchaudio.transforms.MelSpectrogram as BEANS calls it, then BEANS' CNN input.
# ---------------------------------------------------------------------------------------------


def beans_mel(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
  """[B, 128, frames] mel power: torch.stft (periodic Hann, centre, reflect) @ HTK mel, no norm."""
  n_fft = int(jnp_recipes.BEANS_FFT_SECONDS * sample_rate)
  hop = int(jnp_recipes.BEANS_HOP_SECONDS * sample_rate)
  if n_fft < 2 or hop < 1:
    raise ValueError(f"sample rate {sample_rate} Hz is too low for the BEANS mel recipe")
  n_samples = audio.shape[-1]
  n_keep = max(1, (n_samples * 100) // sample_rate)  # int(seconds * 100), as BEANS crops
  if n_samples < n_fft:  # BEANS zero-pads short clips to one FFT window first
    audio = torch.nn.functional.pad(audio, (0, n_fft - n_samples))
  spec = torch.stft(audio, n_fft=n_fft, hop_length=hop, win_length=n_fft,
                    window=_const(frontend.hann_window(n_fft, periodic=True)), center=True,
                    pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
  power = spec.real ** 2 + spec.imag ** 2  # [B, F, frames]
  fb = _const(frontend.mel_filterbank(sample_rate, n_fft, jnp_recipes.BEANS_N_MELS, htk=True,
                                      norm=None, bin_freqs="linspace"))
  mel = torch.einsum("bft,fm->bmt", power, fb)[..., :n_keep]
  if mel.shape[-1] < n_keep:
    mel = torch.nn.functional.pad(mel, (0, n_keep - mel.shape[-1]))
  return mel


def _batch_max_mel(audio, sample_rate: int, name: str) -> torch.Tensor:
  mel = beans_mel(_as_batch(audio, name), sample_rate)
  peak = mel.max()
  # BEANS divides by the batch maximum; an all-silent batch stays zeros instead of 0/0 = NaN.
  return mel / torch.where(peak > 0, peak, torch.ones_like(peak))


@_register("paper_mel3")
def paper_mel3(audio, sample_rate: int) -> torch.Tensor:
  mel = _batch_max_mel(audio, sample_rate, "paper_mel3")
  return mel[:, None].expand(-1, 3, -1, -1).contiguous()


@_register("paper_mel3_224")
def paper_mel3_224(audio, sample_rate: int) -> torch.Tensor:
  """[B, 3, 224, 224]: the batch-max mel resized with the jnp recipe's own weight matrices
  (antialiased bilinear, F.interpolate's weights), for torchvision's fixed-size ViT."""
  mel = _batch_max_mel(audio, sample_rate, "paper_mel3_224")
  size = jnp_recipes.VIT_IMAGE_SIZE
  rows = _const(frontend.linear_resize_matrix(mel.shape[1], size))
  cols = _const(frontend.linear_resize_matrix(mel.shape[2], size))
  mel = torch.einsum("om,bmt,pt->bop", rows, mel, cols)
  return mel[:, None].expand(-1, 3, -1, -1).contiguous()


# ---------------------------------------------------------------------------------------------
# vggish_logmel: torchvggish's waveform_to_examples at 16 kHz.
# ---------------------------------------------------------------------------------------------


@_register("vggish_logmel")
def vggish_logmel(audio, sample_rate: int) -> torch.Tensor:
  audio = _as_batch(audio, "vggish_logmel")
  jnp_recipes.require_rate("vggish_logmel", jnp_recipes.VGGISH_RATE, sample_rate)
  window_length, hop, n_fft = 400, 160, 512
  patch = jnp_recipes.VGGISH_PATCH_FRAMES
  min_samples = window_length + hop * (patch - 1)
  if audio.shape[-1] < min_samples:
    raise ValueError(f"vggish_logmel needs at least {min_samples} samples (0.975 s at 16 kHz) "
                     f"for one 96-frame patch, got {audio.shape[-1]}; use longer clips.")
  frames = audio.unfold(-1, window_length, hop)  # [B, n_frames, 400], no padding
  frames = frames * _const(frontend.hann_window(window_length, periodic=True))
  magnitude = torch.fft.rfft(frames, n=n_fft, dim=-1).abs()
  fb = _const(frontend.mel_space_filterbank(n_fft // 2 + 1, jnp_recipes.VGGISH_RATE,
                                            jnp_recipes.VGGISH_BANDS, 125.0, 7500.0,
                                            zero_dc=True))
  log_mel = torch.log(magnitude @ fb + 0.01)
  n_patches = log_mel.shape[1] // patch
  log_mel = log_mel[:, :n_patches * patch]
  return log_mel.reshape(log_mel.shape[0], n_patches, 1, patch, jnp_recipes.VGGISH_BANDS)


# ---------------------------------------------------------------------------------------------
# Raw waveforms.
# ---------------------------------------------------------------------------------------------


@_register("waveform16k")
def waveform16k(audio, sample_rate: int) -> torch.Tensor:
  jnp_recipes.require_rate("waveform16k", 16000, sample_rate)
  return _as_batch(audio, "waveform16k")


@_register("waveform16k_norm")
def waveform16k_norm(audio, sample_rate: int) -> torch.Tensor:
  audio = waveform16k(audio, sample_rate)
  mean = audio.mean(dim=-1, keepdim=True)
  var = ((audio - mean) ** 2).mean(dim=-1, keepdim=True)
  return (audio - mean) / torch.sqrt(var + jnp_recipes.WAV2VEC2_NORM_EPS)


@_register("waveform")
def waveform(audio, sample_rate: int) -> torch.Tensor:
  del sample_rate  # any rate: the model takes the dataset's own
  return _as_batch(audio, "waveform")


@_register("panns_logmel")
def panns_waveform(audio, sample_rate: int) -> torch.Tensor:
  """The 32 kHz waveform: PANNs' Cnn14 computes its log-mel itself (torchlibrosa, inside the
  model), so its baseline runs the original front end; tests/models/test_cnn14.py checks that
  front end against the jnp recipe `panns_logmel`."""
  jnp_recipes.require_rate("panns_logmel", jnp_recipes.PANNS_RATE, sample_rate)
  return _as_batch(audio, "panns_logmel")


# ---------------------------------------------------------------------------------------------
# ast_fbank: ASTFeatureExtractor's kaldi fbank (numpy path), normalised with AudioSet stats.
# ---------------------------------------------------------------------------------------------


def kaldi_fbank(audio: torch.Tensor, sample_rate: int = 16000, num_mel_bins: int = 128,
                low_freq: float = 20.0, preemphasis: float = 0.97) -> torch.Tensor:
  """[B, frames, num_mel_bins] log fbank: snip-edges 25/10 ms frames, DC removal, pre-emphasis,
  symmetric Hann, power spectrum, kaldi-mel triangles, log(max(., float32 eps)); no dither."""
  frame_length = int(round(sample_rate * 0.025))
  hop = int(round(sample_rate * 0.010))
  n_fft = 1 << (frame_length - 1).bit_length()
  if audio.shape[-1] < frame_length:
    raise ValueError(f"{audio.shape[-1]} samples is shorter than one frame ({frame_length}).")
  frames = audio.unfold(-1, frame_length, hop)
  frames = frames - frames.mean(dim=-1, keepdim=True)
  previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
  frames = (frames - preemphasis * previous) * _const(
      frontend.hann_window(frame_length, periodic=False))
  spec = torch.fft.rfft(frames, n=n_fft, dim=-1)
  power = spec.real ** 2 + spec.imag ** 2
  fb = _const(frontend.mel_space_filterbank(n_fft // 2 + 1, sample_rate, num_mel_bins,
                                            float(low_freq), sample_rate / 2.0))
  return torch.log(torch.clamp(power @ fb, min=frontend.FLOAT32_EPS))


@_register("ast_fbank")
def ast_fbank(audio, sample_rate: int) -> torch.Tensor:
  audio = _as_batch(audio, "ast_fbank")
  jnp_recipes.require_rate("ast_fbank", 16000, sample_rate)
  fbank = kaldi_fbank(audio, sample_rate, jnp_recipes.AST_BINS)
  length = jnp_recipes.AST_MAX_LENGTH
  if fbank.shape[1] < length:  # zero-pad BEFORE normalising, as the feature extractor does
    fbank = torch.nn.functional.pad(fbank, (0, 0, 0, length - fbank.shape[1]))
  fbank = fbank[:, :length]
  return (fbank - jnp_recipes.AST_MEAN) / (2.0 * jnp_recipes.AST_STD)


# ---------------------------------------------------------------------------------------------
# whisper_logmel: WhisperFeatureExtractor's log-mel, the frames that touch the clip.
# ---------------------------------------------------------------------------------------------


@_register("whisper_logmel")
def whisper_logmel(audio, sample_rate: int) -> torch.Tensor:
  audio = _as_batch(audio, "whisper_logmel")
  jnp_recipes.require_rate("whisper_logmel", jnp_recipes.WHISPER_RATE, sample_rate)
  frames, length = jnp_recipes.whisper_frames(audio.shape[-1])
  audio = torch.nn.functional.pad(audio[:, :length], (0, max(0, length - audio.shape[-1])))
  n_fft = jnp_recipes.WHISPER_N_FFT
  spec = torch.stft(audio, n_fft=n_fft, hop_length=jnp_recipes.WHISPER_HOP,
                    window=_const(frontend.hann_window(n_fft, periodic=True)), center=True,
                    pad_mode="reflect", return_complex=True)
  power = (spec.real ** 2 + spec.imag ** 2)[..., :frames]  # [B, F, frames]
  mel = _const(jnp_recipes.whisper_filterbank()).T @ power
  log_spec = torch.clamp(mel, min=1e-10).log10()
  peak = log_spec.amax(dim=(1, 2), keepdim=True)
  return (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0


# ---------------------------------------------------------------------------------------------
# clap_logmel: ClapFeatureExtractor's 48 kHz log-mel (rand_trunc / repeatpad), 10 s.
# ---------------------------------------------------------------------------------------------


@_register("clap_logmel")
def clap_logmel(audio, sample_rate: int) -> torch.Tensor:
  audio = _as_batch(audio, "clap_logmel")
  jnp_recipes.require_rate("clap_logmel", jnp_recipes.CLAP_RATE, sample_rate)
  length = jnp_recipes.CLAP_SAMPLES
  if audio.shape[-1] >= length:
    audio = audio[:, :length]  # the first 10 s (the extractor's crop is random)
  else:  # repeatpad: whole repeats, then zeros
    audio = audio.repeat(1, length // audio.shape[-1])
    audio = torch.nn.functional.pad(audio, (0, length - audio.shape[-1]))
  n_fft = jnp_recipes.CLAP_N_FFT
  spec = torch.stft(audio, n_fft=n_fft, hop_length=jnp_recipes.CLAP_HOP,
                    window=_const(frontend.hann_window(n_fft, periodic=True)), center=True,
                    pad_mode="reflect", return_complex=True)
  power = (spec.real ** 2 + spec.imag ** 2).transpose(1, 2)  # [B, frames, F]
  mel = power @ _const(jnp_recipes.clap_filterbank())
  return 10.0 * torch.clamp(mel, min=1e-10).log10()


# ---------------------------------------------------------------------------------------------
# birdset_mel: BirdSet's ConvNeXt input (torchaudio Spectrogram + MelScale, PowerToDB, Normalize).
# ---------------------------------------------------------------------------------------------


@_register("birdset_mel")
def birdset_mel(audio, sample_rate: int) -> torch.Tensor:
  """[B, 1, 128, frames]: power mel (HTK, no norm), dB floored 80 below each clip's peak,
  (x - mean) / std with BirdSet's constants."""
  audio = _as_batch(audio, "birdset_mel")
  jnp_recipes.require_rate("birdset_mel", jnp_recipes.BIRDSET_RATE, sample_rate)
  n_fft = jnp_recipes.BIRDSET_N_FFT
  spec = torch.stft(audio, n_fft=n_fft, hop_length=jnp_recipes.BIRDSET_HOP,
                    window=_const(frontend.hann_window(n_fft, periodic=True)), center=True,
                    pad_mode="reflect", return_complex=True)
  fb = _const(frontend.mel_filterbank(sample_rate, n_fft, jnp_recipes.BIRDSET_N_MELS, htk=True,
                                      norm=None, bin_freqs="linspace"))
  mel = torch.einsum("bft,fm->bmt", spec.real ** 2 + spec.imag ** 2, fb)
  db = 10.0 * torch.clamp(mel, min=1e-10).log10()
  db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - jnp_recipes.BIRDSET_TOP_DB)
  return ((db - jnp_recipes.BIRDSET_MEAN) / jnp_recipes.BIRDSET_STD)[:, None]
