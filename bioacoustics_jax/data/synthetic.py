"""The built-in synthetic bioacoustics suite: a miniature BEANS, generated from a seed in seconds.

It exists so the whole pipeline (builders, models, fine-tuning, clustering, reports) runs and is
tested without the 300 GB of real data. The sets are written in the BEANS on-disk format, so the
same builders read them and real BEANS folders:

  synth_birds            classification, 22050 Hz, 2 s clips, 8 species (FM sweeps, harmonic
                         stacks, trills with amplitude modulation, click trains)
  synth_bats             classification, 192 kHz, 0.3 s clips, 5 echolocation call types
                         (steep/shallow FM, CF-FM, quasi-CF pulses, broadband clicks)
  synth_frogs_detection  detection, 16 kHz, 2 s windows / 1 s shift, 3 target species in long
                         soundscapes (coloured noise, wind, rain, insect chorus, non-target calls)

Within a class, calls vary by "individual" (fixed pitch/rate/duration offsets) and per call
(jitter); backgrounds are mixed at a controlled SNR. Every byte follows from (seed, size, name).

    from bioacoustics_jax.data import synthetic
    names = synthetic.write_suite("/tmp/synth", size="small")   # then open_split(name, ...)
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import zlib
from typing import Any, Sequence

import numpy as np

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import synth_calls as calls

GENERATOR = "bioacoustics_jax.data.synthetic"
GENERATOR_VERSION = 1  # bump when the generated audio changes, so old folders get regenerated


@dataclasses.dataclass(frozen=True)
class SuiteSize:
  """How much to generate. Counts are per split (train, valid, test).

  Attributes:
    clips_per_class: classification clips per class per split.
    recordings: detection recordings per split.
    recording_seconds: length of each detection recording (BEANS uses 60 s chunks).
    clip_scale: multiplies each classification set's clip length (tiny uses short clips).
  """

  # The test split is as large as train: it is the split whose embeddings get clustered.
  clips_per_class: tuple[int, int, int] = (12, 4, 12)
  recordings: tuple[int, int, int] = (4, 2, 4)
  recording_seconds: float = 20.0
  clip_scale: float = 1.0


SIZES = {
    "tiny": SuiteSize(clips_per_class=(3, 1, 1), recordings=(2, 1, 1), recording_seconds=6.0,
                      clip_scale=0.5),
    "small": SuiteSize(),
    "full": SuiteSize(clips_per_class=(60, 20, 20), recordings=(20, 5, 5),
                      recording_seconds=60.0),
}


@dataclasses.dataclass(frozen=True)
class Species:
  """A call template; `kind` picks the generator in synth_calls, `params` its arguments."""

  name: str
  kind: str  # "sweep" | "stack" | "trill" | "pulses"
  dur: float  # typical call duration, seconds
  params: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SynthSpec:
  name: str
  task: str
  sample_rate: int
  clip_seconds: float  # clip (classification) or window (detection) length
  shift_seconds: float | None
  species: tuple[Species, ...]
  backgrounds: tuple[str, ...]  # extra soundscape layers on top of coloured noise
  snr_db: tuple[float, float]
  distractors: tuple[Species, ...] = ()


_BIRDS = (
    Species("upsweep", "sweep", 0.35, dict(f_start=1500, f_end=4500, harmonics=1)),
    Species("downsweep", "sweep", 0.3, dict(f_start=6000, f_end=2000, harmonics=2)),
    Species("hoot", "stack", 0.6, dict(f0=450, n_harmonics=5, rolloff=0.7, vibrato_hz=5,
                                       vibrato_depth=0.02)),
    Species("whine", "stack", 0.5, dict(f0=1200, n_harmonics=4, rolloff=0.5, vibrato_hz=12,
                                        vibrato_depth=0.06)),
    Species("slowtrill", "trill", 0.8, dict(f_center=3500, note_rate=12, bandwidth=600)),
    Species("fasttrill", "trill", 0.7, dict(f_center=5000, note_rate=30, bandwidth=1200)),
    Species("drummer", "pulses", 0.8, dict(ici=0.05, pulse_dur=0.004, f_start=0, f_end=0)),
    Species("chatter", "pulses", 0.9, dict(ici=0.1, pulse_dur=0.05, f_start=2500, f_end=5000)),
)
_BATS = (
    Species("fm_steep", "pulses", 0.25, dict(ici=0.06, pulse_dur=0.003, f_start=90e3,
                                             f_end=35e3)),
    Species("fm_shallow", "pulses", 0.25, dict(ici=0.1, pulse_dur=0.008, f_start=55e3,
                                               f_end=25e3)),
    Species("cf_fm", "pulses", 0.25, dict(ici=0.08, pulse_dur=0.03, f_start=83e3, f_end=65e3,
                                          cf_fraction=0.8)),
    Species("qcf", "pulses", 0.25, dict(ici=0.12, pulse_dur=0.01, f_start=45e3, f_end=38e3)),
    Species("clicks", "pulses", 0.25, dict(ici=0.015, pulse_dur=0.0003, f_start=0, f_end=0)),
)
_FROGS = (
    Species("croaker", "pulses", 0.7, dict(ici=0.04, pulse_dur=0.015, f_start=900, f_end=600)),
    Species("triller", "trill", 0.6, dict(f_center=2500, note_rate=20, bandwidth=300)),
    Species("peeper", "sweep", 0.2, dict(f_start=2800, f_end=3600, harmonics=2)),
)

ROSTER = {
    "synth_birds": SynthSpec("synth_birds", "classification", 22050, 2.0, None, _BIRDS,
                             ("wind", "rain", "insects"), (0.0, 18.0)),
    "synth_bats": SynthSpec("synth_bats", "classification", 192000, 0.3, None, _BATS,
                            ("insects",), (3.0, 20.0)),
    "synth_frogs_detection": SynthSpec(
        "synth_frogs_detection", "detection", 16000, 2.0, 1.0, _FROGS,
        ("wind", "rain", "insects"), (0.0, 15.0), distractors=(_BIRDS[0], _BIRDS[2], _BIRDS[5])),
}


def _rng(seed: int, *keys: Any) -> np.random.Generator:
  """An independent stream per (seed, keys): files never depend on generation order."""
  return np.random.default_rng([seed] + [zlib.crc32(str(k).encode()) for k in keys])


def _individuals(spec: SynthSpec, seed: int, n: int = 4) -> dict[str, list[dict[str, float]]]:
  """Per species, n individuals with fixed pitch/rate/duration offsets (within-class variety)."""
  out = {}
  for sp in spec.species + spec.distractors:
    rng = _rng(seed, spec.name, "individuals", sp.name)
    out[sp.name] = [dict(pitch=rng.normal(1, 0.04), rate=rng.normal(1, 0.06),
                         dur=rng.normal(1, 0.08)) for _ in range(n)]
  return out


def render_call(sp: Species, sr: int, rng: np.random.Generator,
                individual: dict[str, float]) -> np.ndarray:
  """One call of species `sp` by `individual`, with per-call jitter; peak 1."""
  p = dict(sp.params)
  pitch = individual["pitch"] * (1 + rng.uniform(-0.02, 0.02))
  rate = individual["rate"] * (1 + rng.uniform(-0.04, 0.04))
  dur = max(0.02, sp.dur * individual["dur"] * (1 + rng.uniform(-0.1, 0.1)))
  if sp.kind == "sweep":
    return calls.fm_sweep(sr, dur, p["f_start"] * pitch, p["f_end"] * pitch,
                          harmonics=p["harmonics"])
  if sp.kind == "stack":
    return calls.harmonic_stack(sr, dur, p["f0"] * pitch, n_harmonics=p["n_harmonics"],
                                rolloff=p["rolloff"], vibrato_hz=p["vibrato_hz"] * rate,
                                vibrato_depth=p["vibrato_depth"])
  if sp.kind == "trill":
    return calls.trill(sr, dur, p["f_center"] * pitch, note_rate=p["note_rate"] * rate,
                       bandwidth=p["bandwidth"] * pitch)
  if sp.kind == "pulses":
    return calls.pulse_train(sr, dur, ici=p["ici"] / rate, pulse_dur=p["pulse_dur"],
                             f_start=p["f_start"] * pitch, f_end=p["f_end"] * pitch,
                             cf_fraction=p.get("cf_fraction", 0.0), jitter=0.1, rng=rng)
  raise ValueError(f"species {sp.name}: unknown call kind {sp.kind!r}")


def soundscape(spec: SynthSpec, n: int, rng: np.random.Generator) -> np.ndarray:
  """Background of n samples, RMS 1: coloured noise plus a random subset of the set's layers."""
  sr = spec.sample_rate
  x = calls.coloured_noise(rng, n, rng.uniform(0.0, 2.0))
  makers = {"wind": lambda: calls.wind(rng, n, sr), "rain": lambda: calls.rain(rng, n, sr),
            "insects": lambda: calls.insect_chorus(rng, n, sr, int(rng.integers(2, 7)))}
  for layer in spec.backgrounds:
    if rng.uniform() < 0.5:
      x = x + rng.uniform(0.3, 1.0) * makers[layer]()
  return (x / (calls.rms(x) + 1e-12)).astype(np.float32)


def _level(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Random overall gain with headroom: recordings differ in level, none clip at 16 bits."""
  peak = float(np.max(np.abs(x))) or 1.0
  return (x * (rng.uniform(0.3, 0.9) / peak)).astype(np.float32)


def make_clip(spec: SynthSpec, class_index: int, rng: np.random.Generator,
              individuals: dict[str, list[dict[str, float]]], clip_seconds: float) -> np.ndarray:
  """A classification clip: one call at a random offset over a soundscape at a random SNR."""
  sr = spec.sample_rate
  n = int(round(clip_seconds * sr))
  sp = spec.species[class_index]
  ind = individuals[sp.name][int(rng.integers(len(individuals[sp.name])))]
  call = render_call(sp, sr, rng, ind)[:n]
  start = int(rng.integers(0, n - len(call) + 1))
  placed = np.zeros(n, dtype=np.float32)
  placed[start:start + len(call)] = call
  noise = soundscape(spec, n, rng)
  snr = rng.uniform(*spec.snr_db)
  # The SNR is measured over the call's extent, so short calls in long clips stay audible.
  scale = calls.rms(call) / (10 ** (snr / 20))
  return _level(placed + scale * noise, rng)


def make_recording(spec: SynthSpec, rng: np.random.Generator,
                   individuals: dict[str, list[dict[str, float]]],
                   seconds: float) -> tuple[np.ndarray, list[dict[str, Any]]]:
  """A detection recording and its annotations [{"st", "ed", "label"}] (targets only)."""
  sr = spec.sample_rate
  n = int(round(seconds * sr))
  x = soundscape(spec, n, rng)
  anns = []
  # Targets: a Poisson-like sequence with gaps, so many windows stay background (as in BEANS).
  t = rng.uniform(0.2, 2.0)
  while t < seconds - 0.1:
    c = int(rng.integers(len(spec.species)))
    sp = spec.species[c]
    ind = individuals[sp.name][int(rng.integers(len(individuals[sp.name])))]
    call = render_call(sp, sr, rng, ind)
    i = int(t * sr)
    call = call[: n - i]
    gain = 10 ** (rng.uniform(*spec.snr_db) / 20) / (calls.rms(call) + 1e-12)
    x[i:i + len(call)] += gain * call
    anns.append({"st": round(t, 4), "ed": round(t + len(call) / sr, 4), "label": sp.name})
    t += len(call) / sr + rng.exponential(3.0) + 0.3
  # Distractors: other species' calls, not annotated, the "unlabelled" part of real soundscapes.
  n_distractors = int(rng.poisson(seconds / 8)) if spec.distractors else 0
  for _ in range(n_distractors):
    sp = spec.distractors[int(rng.integers(len(spec.distractors)))]
    call = render_call(sp, sr, rng, individuals[sp.name][0])
    i = int(rng.integers(0, max(1, n - len(call))))
    call = call[: n - i]
    x[i:i + len(call)] += 10 ** (rng.uniform(-3, 8) / 20) / (calls.rms(call) + 1e-12) * call
  return _level(x, rng), anns


def _fingerprint(spec: SynthSpec, size: SuiteSize, seed: int) -> str:
  blob = json.dumps({"generator": GENERATOR_VERSION, "name": spec.name, "seed": seed,
                     "size": dataclasses.asdict(size)}, sort_keys=True)
  return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _write_dataset(spec: SynthSpec, folder: str, size: SuiteSize, seed: int) -> dict[str, int]:
  individuals = _individuals(spec, seed)
  counts = {}
  for si, split in enumerate(catalog.SPLITS):
    rows = []
    if spec.task == "classification":
      clip = spec.clip_seconds * size.clip_scale
      for c, sp in enumerate(spec.species):
        for k in range(size.clips_per_class[si]):
          rel = f"wav/{split}/{sp.name}_{k:04d}.wav"
          x = make_clip(spec, c, _rng(seed, spec.name, split, sp.name, k), individuals, clip)
          audio_io.write_wav(os.path.join(folder, rel), x, spec.sample_rate)
          rows.append({"path": rel, "label": sp.name})
      with open(os.path.join(folder, f"annotations.{split}.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "label"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
      for k in range(size.recordings[si]):
        rel = f"wav/{split}/rec_{k:04d}.wav"
        x, anns = make_recording(spec, _rng(seed, spec.name, split, k), individuals,
                                 size.recording_seconds)
        audio_io.write_wav(os.path.join(folder, rel), x, spec.sample_rate)
        rows.append({"path": rel, "length": size.recording_seconds, "annotations": anns})
      with open(os.path.join(folder, f"{split}.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    counts[split] = len(rows)
  return counts


def _describe(spec: SynthSpec, size: SuiteSize, seed: int, counts: dict[str, int]) -> dict:
  meta = {"name": spec.name, "task": spec.task, "sample_rate": spec.sample_rate,
          "class_names": [s.name for s in spec.species]}
  if spec.task == "classification":
    meta.update(format="beans_classification", clip_seconds=spec.clip_seconds * size.clip_scale,
                splits={s: f"annotations.{s}.csv" for s in catalog.SPLITS})
  else:
    meta.update(format="beans_detection", window_seconds=spec.clip_seconds,
                shift_seconds=spec.shift_seconds, recording_seconds=size.recording_seconds,
                splits={s: f"{s}.jsonl" for s in catalog.SPLITS})
  meta.update(counts=counts, generator={"module": GENERATOR, "version": GENERATOR_VERSION,
                                        "seed": seed, "size": dataclasses.asdict(size)},
              fingerprint=_fingerprint(spec, size, seed))
  return meta


def _existing_fingerprint(folder: str) -> str | None:
  """The fingerprint of a suite folder we wrote; raises if the folder holds someone else's data."""
  path = os.path.join(folder, catalog.DATASET_JSON)
  if not os.path.exists(folder):
    return None
  try:
    with open(path) as f:
      meta = json.load(f)
  except (OSError, json.JSONDecodeError):
    meta = {}
  if meta.get("generator", {}).get("module") != GENERATOR:
    if os.listdir(folder):
      raise FileExistsError(f"{folder} exists and was not written by {GENERATOR}; refusing to "
                            "overwrite it. Pick another root or remove it yourself.")
    return None
  return meta.get("fingerprint")


def write_suite(root: str, size: str | SuiteSize = "small", seed: int = 0,
                names: Sequence[str] | None = None) -> list[str]:
  """Writes the synthetic sets under `root/<name>/` and returns their names (for open_split).

  Idempotent: a set whose dataset.json already has the same fingerprint (generator version,
  seed, size) is left as it is; one with another fingerprint is regenerated (its folder,
  including any prepared `_tfds` data, is replaced). Writes go to a temporary folder that is
  renamed at the end, so an interrupted run never leaves a half-written set.
  """
  if isinstance(size, str):
    if size not in SIZES:
      raise ValueError(f"unknown size {size!r}; use one of {sorted(SIZES)} or a SuiteSize")
    size = SIZES[size]
  names = list(names) if names is not None else list(ROSTER)
  unknown = [n for n in names if n not in ROSTER]
  if unknown:
    raise ValueError(f"unknown synthetic sets {unknown}; known: {sorted(ROSTER)}")
  os.makedirs(root, exist_ok=True)
  for name in names:
    spec, folder = ROSTER[name], os.path.join(root, name)
    fp = _fingerprint(spec, size, seed)
    if _existing_fingerprint(folder) == fp:
      continue
    # Host and pid in the name: a writer never removes another one's half-written folder.
    tmp = f"{folder}.tmp-{socket.gethostname()}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    counts = _write_dataset(spec, tmp, size, seed)
    with open(os.path.join(tmp, catalog.DATASET_JSON), "w") as f:
      json.dump(_describe(spec, size, seed, counts), f, indent=1, sort_keys=True)
    if os.path.exists(folder):
      shutil.rmtree(folder)
    os.replace(tmp, folder)
  return names
