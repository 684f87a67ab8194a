r"""Archive embedding throughput: audio hours per wall second, project vs a plain PyTorch loop.

  nice .venv/bin/python -m experiments.perf.bench_soundscape --recordings=8 --seconds=120 \
      --repeats=3 --models=rn18,vit_b_16 --out=experiments/perf/results/soundscape_cpu.md

One synthetic archive (planted.py: noise with calls, 16 kHz wav) is embedded in 5 s windows
(hop 5 s) by each of `--models` (full width, random init: speed does not depend on the weights;
ResNet-18 and a transformer, ViT-B/16 on the paper's mel at 224 x 224), batch 32:
- project: `soundscape.archive.embed_archive` into a fresh store (listing, streamed windows,
  jitted extraction over every local device, shards and manifest written);
- torch: a plain loop: soundfile reads each whole file, numpy cuts it into the same windows
  (tail zero-padded), the preset's torch recipe and torchvision ResNet-18 run on batches of 32
  under torch.inference_mode, rows collected in memory.
Per model, runs alternate (project, torch, project, ...) after one warm-up run of each
(compilation and first-call costs excluded from both); the table gives every run and the medians.
ViT-B/16's recipe (paper_mel3_224) takes a statistic over the batch: the project computes it per
window (the store's rows must not depend on batching, soundscape/embedder.py), the torch loop per
batch as the reference does; the work per window is the same. The load
average is printed: on a shared machine the numbers move with it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import app
from absl import flags

from experiments.perf import output

_RECORDINGS = flags.DEFINE_integer("recordings", 8, "Recordings in the archive.")
_SECONDS = flags.DEFINE_float("seconds", 120.0, "Length of each recording.")
_WINDOW = flags.DEFINE_float("window", 5.0, "Window (= hop) seconds.")
_BATCH = flags.DEFINE_integer("batch", 32, "Windows per batch (both frameworks).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs of each (after one warm-up).")
_MODELS = flags.DEFINE_list("models", ["rn18"], "Zoo model ids (each with a PyTorch reference).")
_OUT = flags.DEFINE_string("out", "", "Write the markdown table here too.")

RATE = 16000


def project_run(model: str, root: str, work: str) -> int:
  from bioacoustics_jax.soundscape import archive  # pylint: disable=g-import-not-at-top
  from launch import config_loader  # pylint: disable=g-import-not-at-top
  config = config_loader.load(f"experiments/configs/archive.py:root={root},model={model},"
                              f"window_seconds={_WINDOW.value},batch_size={_BATCH.value}")
  return archive.embed_archive(config, work).num_windows()


def torch_loop(model_name: str, root: str) -> int:
  import numpy as np  # pylint: disable=g-import-not-at-top
  import soundfile as sf  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.baselines import torch_embed  # pylint: disable=g-import-not-at-top
  model = _torch_model(model_name, zoo, torch_embed)
  window = int(_WINDOW.value * RATE)
  rows = []
  with torch.inference_mode():
    for name in sorted(os.listdir(root)):
      audio, rate = sf.read(os.path.join(root, name), dtype="float32")
      count = max(1, -(-(len(audio) - window) // window) + 1)
      padded = np.zeros(count * window, np.float32)
      padded[:len(audio)] = audio
      frames = padded.reshape(count, window)
      for lo in range(0, count, _BATCH.value):
        rows.append(model.embed_audio(frames[lo:lo + _BATCH.value], rate).numpy())
  return sum(len(r) for r in rows)


_CACHE = {}


def _torch_model(name, zoo, torch_embed):
  if name not in _CACHE:
    _CACHE[name] = torch_embed.build_backbone(zoo.resolve(name))
  return _CACHE[name]


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import planted  # pylint: disable=g-import-not-at-top
  hours = _RECORDINGS.value * _SECONDS.value / 3600
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    root = os.path.join(tmp, "audio")
    planted.write_archive(root, recordings=_RECORDINGS.value, seconds=_SECONDS.value, rate=RATE,
                          window_seconds=_WINDOW.value, calls_per_recording=8)
    for model in _MODELS.value:
      results[model] = _time_model(model, root, tmp)
  lines = [
      "# Soundscape archive embedding: audio hours per wall second, project vs plain PyTorch",
      "",
      f"Command: `nice .venv/bin/python -m experiments.perf.bench_soundscape "
      f"--recordings={_RECORDINGS.value} --seconds={_SECONDS.value:g} --repeats={_REPEATS.value}"
      f" --batch={_BATCH.value} --models={','.join(_MODELS.value)}"
      f"{' --out=' + _OUT.value if _OUT.value else ''}`  ",
      f"Machine: {os.cpu_count()} CPU cores SHARED with other jobs (load avg "
      f"{os.getloadavg()[0]:.1f} at the end): the numbers are indicative only. JAX "
      f"{jax.__version__} on {jax.device_count()} {jax.default_backend()} devices, torch "
      f"{torch.__version__} ({torch.get_num_threads()} threads). Models full width, random init, "
      f"{_WINDOW.value:g} s windows, hop {_WINDOW.value:g} s, batch {_BATCH.value}; archive "
      f"{_RECORDINGS.value} x {_SECONDS.value:g} s at {RATE} Hz ({hours:.3f} h).",
      "",
      "| model | pipeline | warm-up s | median of timed runs s | audio h per wall s |",
      "|---|---|---:|---:|---:|",
  ]
  for model, (times, windows) in results.items():
    median = {k: statistics.median(v[1:]) for k, v in times.items()}
    for name, label in (("project", "project (embed_archive, store written)"),
                        ("torch", "torch (soundfile + numpy windows + torch recipe + model)")):
      lines.append(f"| {model} | {label} | {times[name][0]:.1f} | {median[name]:.2f} | "
                   f"{hours / median[name]:.4f} |")
    results[model] = median["torch"] / median["project"], times, windows
  lines.append("")
  for model, (ratio, times, windows) in results.items():
    lines.append(f"- {model} ({windows} windows): **torch / project = {ratio:.2f}** (> 1: the "
                 f"project is faster). Runs: project {[round(t, 2) for t in times['project']]} s,"
                 f" torch {[round(t, 2) for t in times['torch']]} s (the first of each is the "
                 "warm-up).")
  output.emit(lines, _OUT.value)


def _time_model(model: str, root: str, tmp: str):
  """Alternating runs of both paths for one model; returns ({path: [s]}, windows embedded)."""
  times = {"project": [], "torch": []}
  windows = {}
  for i in range(_REPEATS.value + 1):  # run 0 of each is the warm-up
    for name in ("project", "torch"):
      start = time.perf_counter()
      if name == "project":
        windows[name] = project_run(model, root, os.path.join(tmp, f"{model}-store{i}"))
      else:
        windows[name] = torch_loop(model, root)
      times[name].append(time.perf_counter() - start)
      print(f"{model} {name} run {i}: {times[name][-1]:.2f} s, {windows[name]} windows, load "
            f"{os.getloadavg()[0]:.1f}", flush=True)
  if windows["project"] != windows["torch"]:
    raise RuntimeError(f"{model}: the two paths embedded different window counts: {windows}")
  return times, windows["project"]


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  app.run(main)
