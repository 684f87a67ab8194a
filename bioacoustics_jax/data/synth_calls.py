"""Procedural animal calls and soundscapes: the raw material of the synthetic suite.

Every function is pure numpy, takes its randomness from a `np.random.Generator` it is given (so a
seed fixes every byte of the suite) and returns float32. Calls are normalised to peak 1; noises
to RMS 1; `mix_at_snr` sets the level of one against the other.

The call types mirror what makes real bioacoustic classes differ: the shape of a frequency
contour (FM sweeps), timbre (harmonic stacks), temporal pattern (trills with amplitude modulation,
pulse trains) and, for bats, very high frequencies and short inter-pulse intervals.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def _t(sr: int, dur: float) -> np.ndarray:
  return np.arange(max(1, int(round(dur * sr)))) / sr


def _phase(freq: np.ndarray, sr: int) -> np.ndarray:
  """Instantaneous phase of a frequency track (Hz per sample); keeps FM contours continuous."""
  return 2 * np.pi * np.cumsum(freq) / sr


def _envelope(n: int, attack: float = 0.15) -> np.ndarray:
  """Smooth onset/offset (Tukey window): calls without clicks at their edges."""
  return signal.windows.tukey(n, alpha=min(1.0, 2 * attack)) if n > 2 else np.ones(n)


def _peak_normalise(x: np.ndarray) -> np.ndarray:
  peak = np.max(np.abs(x)) if x.size else 0.0
  return (x / peak if peak > 0 else x).astype(np.float32)


def _band_limit(f: np.ndarray | float, sr: int) -> np.ndarray:
  return np.clip(f, 20.0, 0.45 * sr)


def fm_sweep(sr: int, dur: float, f_start: float, f_end: float, *, exponential: bool = True,
             harmonics: int = 1) -> np.ndarray:
  """A frequency sweep (up or down), optionally with a few weaker harmonics."""
  t = _t(sr, dur)
  frac = t / max(t[-1], 1e-9)
  if exponential:
    f = f_start * (f_end / f_start) ** frac
  else:
    f = f_start + (f_end - f_start) * frac
  phase = _phase(_band_limit(f, sr), sr)
  x = sum(0.6 ** (k - 1) * np.sin(k * phase) * (k * np.max(f) < 0.45 * sr)
          for k in range(1, harmonics + 1))
  return _peak_normalise(x * _envelope(len(t)))


def harmonic_stack(sr: int, dur: float, f0: float, *, n_harmonics: int = 6,
                   rolloff: float = 0.7, vibrato_hz: float = 0.0,
                   vibrato_depth: float = 0.0) -> np.ndarray:
  """A voiced call: fundamental plus harmonics with geometric roll-off and optional vibrato."""
  t = _t(sr, dur)
  f = f0 * (1 + vibrato_depth * np.sin(2 * np.pi * vibrato_hz * t))
  phase = _phase(f, sr)
  x = np.zeros_like(t)
  for k in range(1, n_harmonics + 1):
    if k * f0 * (1 + vibrato_depth) >= 0.45 * sr:
      break  # above Nyquist it would alias into a different-sounding call
    x += rolloff ** (k - 1) * np.sin(k * phase)
  return _peak_normalise(x * _envelope(len(t)))


def trill(sr: int, dur: float, f_center: float, *, note_rate: float, bandwidth: float,
          am_depth: float = 0.9) -> np.ndarray:
  """Rapidly repeated notes: sinusoidal FM around f_center plus amplitude modulation."""
  t = _t(sr, dur)
  f = f_center + bandwidth * np.sin(2 * np.pi * note_rate * t)
  am = 1 - am_depth * (0.5 + 0.5 * np.cos(2 * np.pi * note_rate * t))
  x = np.sin(_phase(_band_limit(f, sr), sr)) * am
  return _peak_normalise(x * _envelope(len(t), attack=0.05))


def pulse_train(sr: int, dur: float, *, ici: float, pulse_dur: float, f_start: float,
                f_end: float, jitter: float = 0.0, rng: np.random.Generator | None = None,
                cf_fraction: float = 0.0) -> np.ndarray:
  """Repeated short pulses every `ici` seconds: echolocation-like FM (or CF-FM) sweeps or clicks.

  `f_start == f_end == 0` gives broadband clicks (windowed noise bursts); `cf_fraction` > 0 makes
  the first part of each pulse constant-frequency (horseshoe-bat-like CF-FM).
  """
  n = max(1, int(round(dur * sr)))
  x = np.zeros(n)
  m = max(4, int(round(pulse_dur * sr)))
  tp = np.arange(m) / sr
  if f_start <= 0:
    noise_rng = rng if rng is not None else np.random.default_rng(0)
    pulse = noise_rng.standard_normal(m)
  else:
    frac = tp / tp[-1]
    cf = frac < cf_fraction
    sweep = (frac - cf_fraction) / max(1e-9, 1 - cf_fraction)
    f = np.where(cf, f_start, f_start * (f_end / f_start) ** np.clip(sweep, 0, 1))
    pulse = np.sin(_phase(_band_limit(f, sr), sr))
  pulse = pulse * signal.windows.hann(m)
  pos = 0.0
  while pos * sr < n:
    i = int(pos * sr)
    seg = pulse[: n - i]
    x[i:i + len(seg)] += seg
    step = ici * (1 + (jitter * rng.uniform(-1, 1) if (rng is not None and jitter) else 0))
    pos += max(step, pulse_dur)
  return _peak_normalise(x)


# ----------------------------------------------------------------------------- soundscapes


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
  """Noise with power spectrum ~ 1/f^exponent (0 white, 1 pink, 2 brown); RMS 1."""
  spec = np.fft.rfft(rng.standard_normal(n))
  f = np.arange(len(spec), dtype=np.float64)
  f[0] = 1.0
  x = np.fft.irfft(spec / f ** (exponent / 2), n=n)
  return (x / (np.std(x) + 1e-12)).astype(np.float32)


def _slow_envelope(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
  """A smooth positive random envelope changing at about `rate_hz` (gusts, chorus swells)."""
  k = max(2, int(n / sr * rate_hz) + 2)
  knots = rng.uniform(0.2, 1.0, size=k)
  return np.interp(np.linspace(0, k - 1, n), np.arange(k), knots)


def wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
  """Low-frequency rumble with gusts: brown noise under a slow random envelope; RMS 1."""
  x = coloured_noise(rng, n, 2.0) * _slow_envelope(rng, n, sr, rate_hz=0.5)
  return (x / (np.std(x) + 1e-12)).astype(np.float32)


def rain(rng: np.random.Generator, n: int, sr: int, drops_per_second: float = 40.0) -> np.ndarray:
  """Random droplet impacts (short decaying broadband bursts) over a pink hiss; RMS 1."""
  x = 0.3 * coloured_noise(rng, n, 1.0)
  n_drops = rng.poisson(drops_per_second * n / sr)
  m = max(8, int(0.006 * sr))
  decay = np.exp(-np.arange(m) / (m / 5))
  for i in rng.integers(0, max(1, n - m), size=n_drops):
    x[i:i + m] += rng.uniform(0.2, 1.5) * rng.standard_normal(m) * decay
  return (x / (np.std(x) + 1e-12)).astype(np.float32)


def insect_chorus(rng: np.random.Generator, n: int, sr: int, n_insects: int = 5) -> np.ndarray:
  """Several stridulating insects: high narrow-band tones, each pulsed at its own rate; RMS 1."""
  t = np.arange(n) / sr
  x = np.zeros(n)
  for _ in range(n_insects):
    f = rng.uniform(0.25, 0.42) * sr
    rate = rng.uniform(8, 40)
    duty = rng.uniform(0.3, 0.7)
    gate = (np.mod(t * rate + rng.uniform(), 1.0) < duty).astype(np.float64)
    gate = np.convolve(gate, np.ones(max(1, int(0.002 * sr))) / max(1, int(0.002 * sr)), "same")
    x += rng.uniform(0.3, 1.0) * gate * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
  x *= _slow_envelope(rng, n, sr, rate_hz=0.2)
  return (x / (np.std(x) + 1e-12)).astype(np.float32)


def rms(x: np.ndarray) -> float:
  return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def mix_at_snr(call: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
  """call + noise scaled so that 20*log10(rms(call)/rms(noise)) == snr_db (same lengths)."""
  if call.shape != noise.shape:
    raise ValueError(f"call and noise lengths differ: {call.shape} vs {noise.shape}")
  noise_rms = rms(noise)
  if noise_rms == 0:
    return call.astype(np.float32)
  target = rms(call) / (10 ** (snr_db / 20))
  return (call + noise * (target / noise_rms)).astype(np.float32)
