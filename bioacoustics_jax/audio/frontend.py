"""Audio frontend in jnp: STFT, mel filterbanks, power/dB, and a kaldi-style fbank.

Everything here is jittable and batched ([B, T] in), so the spectrogram is computed on the
accelerator inside the same jitted function as the model (see embed/extract.py) instead of on the
host in the input pipeline. Sizes (n_fft, hop, sample rate) are Python ints, i.e. static under jit.

Filterbanks and windows are built once in numpy (float64, then cast) and enter the traced
computation as constants: they depend only on static arguments, and building them in numpy keeps
them bit-for-bit comparable with librosa's and transformers' numpy code.

Conventions (checked in tests/audio/test_frontend.py):
- `stft` matches `librosa.stft` (centre padding, periodic Hann window, a window shorter than n_fft
  is zero-padded on both sides to n_fft). `pad_mode="constant"` is librosa's default,
  `pad_mode="reflect"` is torch.stft's / torchaudio's default.
- `mel_filterbank(htk=False, norm="slaney")` is librosa's default; `htk=True, norm=None,
  bin_freqs="linspace"` is torchaudio's `melscale_fbanks` default (mel_scale="htk", norm=None),
  which BEANS uses. torchaudio is not installable here, so its filterbank is reproduced in numpy.
  Both libraries draw triangles in Hz between mel-spaced edges; they differ only in where they
  place the FFT bins: librosa at the true bin frequencies `rfftfreq(n_fft, 1/sr)`, torchaudio at
  `linspace(0, sr // 2, n_fft//2 + 1)`. For even n_fft these coincide (the librosa test covers
  it); for odd n_fft (BEANS at 44.1 kHz: n_fft = 2205) they do not, and the torchaudio placement
  is what the paper's models saw.
- `kaldi_fbank` matches `transformers.audio_utils.spectrogram` as `ASTFeatureExtractor` calls it
  without torchaudio (snip_edges framing, DC removal, pre-emphasis, symmetric Hann window,
  triangles in kaldi-mel space, natural log with a float32-epsilon floor).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# Kaldi's mel floor: float32 machine epsilon (what ASTFeatureExtractor passes as mel_floor).
FLOAT32_EPS = float(np.finfo(np.float32).eps)


# ---------------------------------------------------------------------------------------------
# Windows and filterbanks (numpy, static).
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def hann_window(length: int, periodic: bool = True) -> np.ndarray:
  """Hann window. Periodic (period `length`) suits STFTs; symmetric is Kaldi's "hanning"."""
  if length < 1:
    raise ValueError(f"window length must be >= 1, got {length}")
  if length == 1:
    return np.ones(1)
  period = length if periodic else length - 1
  return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / period)


def hz_to_mel(freqs, htk: bool = False):
  """Hz -> mel. HTK: 2595 log10(1 + f/700). Slaney: linear below 1 kHz, log above (librosa)."""
  freqs = np.asarray(freqs, dtype=np.float64)
  if htk:
    return 2595.0 * np.log10(1.0 + freqs / 700.0)
  f_sp = 200.0 / 3
  min_log_hz = 1000.0
  min_log_mel = min_log_hz / f_sp
  logstep = np.log(6.4) / 27.0
  linear = freqs / f_sp
  logpart = min_log_mel + np.log(np.maximum(freqs, min_log_hz) / min_log_hz) / logstep
  return np.where(freqs >= min_log_hz, logpart, linear)


def mel_to_hz(mels, htk: bool = False):
  """Inverse of `hz_to_mel`."""
  mels = np.asarray(mels, dtype=np.float64)
  if htk:
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
  f_sp = 200.0 / 3
  min_log_hz = 1000.0
  min_log_mel = min_log_hz / f_sp
  logstep = np.log(6.4) / 27.0
  linear = f_sp * mels
  logpart = min_log_hz * np.exp(logstep * (mels - min_log_mel))
  return np.where(mels >= min_log_mel, logpart, linear)


def _triangles(bin_positions: np.ndarray, edges: np.ndarray) -> np.ndarray:
  """[n_bins, n_filters] triangles rising from edges[i] to edges[i+1], falling to edges[i+2].

  Positions and edges share a unit (Hz for librosa/torchaudio, mel for VGGish/Kaldi).
  """
  widths = np.diff(edges)
  offsets = edges[None, :] - bin_positions[:, None]  # [n_bins, n_filters + 2]
  rising = -offsets[:, :-2] / widths[:-1]
  falling = offsets[:, 2:] / widths[1:]
  return np.maximum(0.0, np.minimum(rising, falling))


@functools.lru_cache(maxsize=64)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False,
                   norm: str | None = "slaney", bin_freqs: str = "rfft") -> np.ndarray:
  """[n_fft//2 + 1, n_mels] float32 matrix; `power_spec @ fb` gives the mel spectrogram.

  Defaults are librosa's (Slaney scale and area normalisation, true bin frequencies).
  `htk=True, norm=None, bin_freqs="linspace"` is torchaudio's MelSpectrogram default, the one
  BEANS uses (see the module docstring for why bin placement matters at odd n_fft).
  """
  if bin_freqs == "rfft":
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    default_fmax = sample_rate / 2.0
  elif bin_freqs == "linspace":
    bin_hz = np.linspace(0.0, float(sample_rate // 2), n_fft // 2 + 1)
    default_fmax = float(sample_rate // 2)
  else:
    raise ValueError(f"bin_freqs must be 'rfft' (librosa) or 'linspace' (torchaudio), got "
                     f"{bin_freqs!r}")
  fmax = default_fmax if fmax is None else float(fmax)
  if not 0.0 <= fmin < fmax <= sample_rate / 2.0 + 1e-6:
    raise ValueError(f"mel_filterbank needs 0 <= fmin < fmax <= sample_rate/2; got fmin={fmin}, "
                     f"fmax={fmax}, sample_rate={sample_rate}")
  if norm not in (None, "slaney"):
    raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
  edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
  fb = _triangles(bin_hz, edges_hz)
  if norm == "slaney":
    # Constant area per filter, so wide high-frequency filters don't dominate the energy.
    fb = fb * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[None, :]
  return fb.astype(np.float32)


@functools.lru_cache(maxsize=16)
def mel_space_filterbank(n_freqs: int, sample_rate: int, n_mels: int, fmin: float, fmax: float,
                         zero_dc: bool = False) -> np.ndarray:
  """[n_freqs, n_mels] triangles drawn in HTK/Kaldi-mel space (VGGish's and Kaldi's banks).

  Unlike `mel_filterbank`, the FFT bin frequencies are converted to mel and the triangles are
  linear in mel. `zero_dc` drops the DC bin, as VGGish (HTK) does.
  """
  bin_mel = hz_to_mel(np.arange(n_freqs) * (sample_rate / 2.0) / (n_freqs - 1), htk=True)
  edges_mel = np.linspace(hz_to_mel(fmin, htk=True), hz_to_mel(fmax, htk=True), n_mels + 2)
  fb = _triangles(bin_mel, edges_mel)
  if zero_dc:
    fb[0, :] = 0.0
  return fb.astype(np.float32)


@functools.lru_cache(maxsize=64)
def linear_resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out_size, in_size] float32 weights of an antialiased linear (triangle) resize.

  Half-pixel centres: output i samples the input at (i + 0.5) * in / out - 0.5; the triangle is
  widened by in / out when shrinking (antialiasing), and each row is normalised over the pixels
  that exist, which is also how the borders are handled. These are the weights of
  torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=True) per
  axis (equal in float64; torch's and jax.image.resize's own float32 kernels are within 1e-5 of
  them; tests/audio/test_frontend.py). One matrix lets the jnp and torch recipes resize with
  the same numbers (a matmul each way).
  """
  if in_size < 1 or out_size < 1:
    raise ValueError(f"resize sizes must be >= 1, got {in_size} -> {out_size}")
  scale = in_size / out_size
  support = max(scale, 1.0)
  centres = (np.arange(out_size) + 0.5) * scale - 0.5
  weights = np.maximum(0.0, 1.0 - np.abs(np.arange(in_size)[None, :] - centres[:, None])
                       / support)
  return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Framing and STFT (jnp).
# ---------------------------------------------------------------------------------------------


def _check_audio(audio: jax.Array) -> jax.Array:
  if audio.ndim != 2:
    raise ValueError(f"audio must be [batch, samples], got shape {audio.shape}; add a batch "
                     "axis with audio[None] for a single clip.")
  return audio.astype(jnp.float32)


def frame(audio: jax.Array, frame_length: int, hop_length: int) -> jax.Array:
  """[B, T] -> [B, n_frames, frame_length], frames starting every hop (incomplete ones dropped).

  A single gather with a static [n_frames, frame_length] index table: one XLA op, no loop.
  """
  n_samples = audio.shape[-1]
  if n_samples < frame_length:
    raise ValueError(f"{n_samples} samples is shorter than one frame ({frame_length}); pad the "
                     "audio or use a shorter window.")
  n_frames = 1 + (n_samples - frame_length) // hop_length
  index = (np.arange(n_frames)[:, None] * hop_length + np.arange(frame_length)[None, :])
  return audio[:, index]


def stft(audio: jax.Array, n_fft: int, hop_length: int, win_length: int | None = None,
         center: bool = True, pad_mode: str = "constant") -> jax.Array:
  """Complex STFT [B, n_frames, n_fft//2 + 1] with a periodic Hann window (librosa semantics)."""
  audio = _check_audio(audio)
  win_length = n_fft if win_length is None else win_length
  if win_length > n_fft:
    raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
  window = np.zeros(n_fft)
  left = (n_fft - win_length) // 2
  window[left:left + win_length] = hann_window(win_length, periodic=True)
  if center:
    pad = n_fft // 2
    if pad_mode == "reflect" and audio.shape[-1] <= pad:
      raise ValueError(f"reflect padding needs more than {pad} samples, got {audio.shape[-1]}; "
                       "zero-pad the clip to n_fft first (BEANS does) or use pad_mode='constant'.")
    if pad_mode not in ("constant", "reflect"):
      raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")
    audio = jnp.pad(audio, ((0, 0), (pad, pad)), mode=pad_mode)
  frames = frame(audio, n_fft, hop_length) * jnp.asarray(window, jnp.float32)
  return jnp.fft.rfft(frames, n=n_fft, axis=-1)


def power_spectrogram(audio: jax.Array, n_fft: int, hop_length: int,
                      win_length: int | None = None, power: float = 2.0, center: bool = True,
                      pad_mode: str = "constant") -> jax.Array:
  """|STFT|^power, [B, n_frames, n_fft//2 + 1] float32."""
  spec = stft(audio, n_fft, hop_length, win_length, center, pad_mode)
  magnitude_sq = jnp.real(spec) ** 2 + jnp.imag(spec) ** 2
  if power == 2.0:
    return magnitude_sq
  if power == 1.0:
    return jnp.sqrt(magnitude_sq)
  return magnitude_sq ** (power / 2.0)


def mel_spectrogram(audio: jax.Array, sample_rate: int, n_fft: int = 2048,
                    hop_length: int = 512, win_length: int | None = None, n_mels: int = 128,
                    fmin: float = 0.0, fmax: float | None = None, power: float = 2.0,
                    center: bool = True, pad_mode: str = "constant", htk: bool = False,
                    norm: str | None = "slaney", bin_freqs: str = "rfft") -> jax.Array:
  """Mel spectrogram [B, n_mels, n_frames] (librosa's orientation; defaults are librosa's)."""
  spec = power_spectrogram(audio, n_fft, hop_length, win_length, power, center, pad_mode)
  fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm, bin_freqs)
  mel = jnp.einsum("bfk,km->bfm", spec, jnp.asarray(fb), precision=jax.lax.Precision.HIGHEST)
  # Transpose the small mel output, not the big spectrogram: asking einsum for "bmf" directly
  # made XLA:CPU transpose the [B, F, n_fft/2] input first (5x slower at 44.1 kHz).
  return jnp.swapaxes(mel, 1, 2)


def power_to_db(spec: jax.Array, ref: float = 1.0, amin: float = 1e-10,
                top_db: float | None = 80.0) -> jax.Array:
  """10 log10(max(S, amin) / ref), clipped to top_db below the per-example maximum (librosa).

  librosa clips below the maximum of the whole array; for a batch the maximum is taken per
  example (all axes but the first), so one loud clip does not change another's features.
  """
  db = 10.0 * jnp.log10(jnp.maximum(spec, amin)) - 10.0 * np.log10(max(amin, ref))
  if top_db is not None:
    peak = jnp.max(db, axis=tuple(range(1, db.ndim)), keepdims=True)
    db = jnp.maximum(db, peak - top_db)
  return db


def kaldi_fbank(audio: jax.Array, sample_rate: int = 16000, num_mel_bins: int = 128,
                frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0,
                preemphasis: float = 0.97, low_freq: float = 20.0, high_freq: float = 0.0,
                mel_floor: float = FLOAT32_EPS) -> jax.Array:
  """Kaldi-style log mel filterbank [B, n_frames, num_mel_bins] (AST's input features).

  Frames are "snip_edges" (no padding; 1 + (T - L) // hop frames). Each frame has its mean
  removed, then pre-emphasis (x[n] - k x[n-1], first sample x[0] (1 - k)), a symmetric Hann
  window, a power spectrum on the next power of two, kaldi-mel triangles, and log(max(., floor)).
  `high_freq <= 0` means Nyquist + high_freq, as in Kaldi. No dither (deterministic features).
  """
  audio = _check_audio(audio)
  frame_length = int(round(sample_rate * frame_length_ms / 1000.0))
  hop_length = int(round(sample_rate * frame_shift_ms / 1000.0))
  n_fft = 1 << (frame_length - 1).bit_length()
  frames = frame(audio, frame_length, hop_length)
  frames = frames - jnp.mean(frames, axis=-1, keepdims=True)
  # Pre-emphasis as one shifted subtraction; the first sample uses itself as predecessor.
  previous = jnp.concatenate([frames[..., :1], frames[..., :-1]], axis=-1)
  frames = frames - preemphasis * previous
  frames = frames * jnp.asarray(hann_window(frame_length, periodic=False), jnp.float32)
  spec = jnp.fft.rfft(frames, n=n_fft, axis=-1)
  power = jnp.real(spec) ** 2 + jnp.imag(spec) ** 2
  nyquist = sample_rate / 2.0
  top = high_freq if high_freq > 0 else nyquist + high_freq
  fb = mel_space_filterbank(n_fft // 2 + 1, sample_rate, num_mel_bins, float(low_freq),
                            float(top))
  mel = jnp.einsum("bfk,km->bfm", power, jnp.asarray(fb), precision=jax.lax.Precision.HIGHEST)
  return jnp.log(jnp.maximum(mel, mel_floor))
