"""Synthetic archives with planted calls: the ground truth for search, discovery and benchmarks.

`write_archive(folder, ...)` writes `recordings` wav files of `seconds` each: a quiet noise
background (data/synth_calls.py's coloured noise) with calls of a few procedural types planted at
window-aligned times, and returns where every call is ({recording, start, end, kind}). A call
lies inside one window (window-aligned start, shorter than the window), so the windows that hold
a given kind are known exactly. `query_clip` renders one more call of a kind, as a search query.
"""

from __future__ import annotations

import os

import numpy as np

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import synth_calls as calls

KINDS = ("upsweep", "stack", "trill")


def render(kind: str, rate: int, rng: np.random.Generator) -> np.ndarray:
  """One call of `kind` (0.4-0.6 s, small jitter in pitch and length), peak 1."""
  dur, pitch = rng.uniform(0.4, 0.6), rng.uniform(0.95, 1.05)
  if kind == "upsweep":
    return calls.fm_sweep(rate, dur, 1000 * pitch, 4000 * pitch, harmonics=2)
  if kind == "stack":
    return calls.harmonic_stack(rate, dur, 400 * pitch, n_harmonics=6)
  if kind == "trill":
    return calls.trill(rate, dur, 5000 * pitch, note_rate=20, bandwidth=600)
  raise ValueError(f"Unknown call kind {kind!r}; known: {KINDS}")


def write_archive(folder: str, *, recordings: int = 3, seconds: float = 20.0, rate: int = 16000,
                  window_seconds: float = 1.0, calls_per_recording: int = 4,
                  kinds: tuple[str, ...] = KINDS, seed: int = 0, noise_level: float = 0.01,
                  tables: str = "") -> list[dict]:
  """Writes rec000.wav ... into `folder`; returns the planted calls. `tables` writes them
  beside each recording too (labels.py): "raven" (recNNN.Table.1.selections.txt), "csv"
  (recNNN.csv) or "mixed" (Raven for even recordings, csv for odd)."""
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  planted = []
  n = int(round(seconds * rate))
  slots = int(seconds // window_seconds)
  for r in range(recordings):
    name = f"rec{r:03d}.wav"
    x = noise_level * calls.coloured_noise(rng, n, 1.0)
    for slot in sorted(rng.choice(slots, size=min(calls_per_recording, slots), replace=False)):
      kind = kinds[int(rng.integers(len(kinds)))]
      call = 0.5 * render(kind, rate, rng)
      start = int(round(slot * window_seconds * rate)) + int(0.1 * rate)
      call = call[:max(0, min(len(call), n - start, int(0.8 * window_seconds * rate)))]
      x[start:start + len(call)] += call
      planted.append({"recording": name, "start": start / rate,
                      "end": (start + len(call)) / rate, "kind": kind})
    audio_io.write_wav(os.path.join(folder, name), x, rate)
    mine = [p for p in planted if p["recording"] == name]
    kind = {"mixed": ("raven", "csv")[r % 2]}.get(tables, tables)
    if kind == "raven":
      with open(os.path.join(folder, f"rec{r:03d}.Table.1.selections.txt"), "w") as f:
        f.write("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tSpecies\n")
        f.writelines(f"{i}\tSpectrogram 1\t1\t{p['start']}\t{p['end']}\t{p['kind']}\n"
                     for i, p in enumerate(mine, start=1))
    elif kind == "csv":
      with open(os.path.join(folder, f"rec{r:03d}.csv"), "w") as f:
        f.write("start,end,label\n")
        f.writelines(f"{p['start']},{p['end']},{p['kind']}\n" for p in mine)
    elif kind:
      raise ValueError(f"tables={tables!r}: expected '', 'raven', 'csv' or 'mixed'.")
  return planted


def query_clip(path: str, kind: str, *, rate: int = 16000, seconds: float = 1.0, seed: int = 99,
               noise_level: float = 0.01) -> str:
  """Writes one call of `kind` in `seconds` of noise to `path` (a search query)."""
  rng = np.random.default_rng(seed)
  x = noise_level * calls.coloured_noise(rng, int(round(seconds * rate)), 1.0)
  call = 0.5 * render(kind, rate, rng)[:int(0.8 * seconds * rate)]
  start = int(0.1 * rate)
  x[start:start + len(call)] += call
  audio_io.write_wav(path, x, rate)
  return path
