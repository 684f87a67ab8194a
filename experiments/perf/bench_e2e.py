r"""End to end, wav files -> clustering metrics: the project vs a BEANS-style PyTorch pipeline.

    nice python -m experiments.perf.bench_e2e --size=small --repeats=3 \
        --out=experiments/perf/results/e2e_cpu.md

Both read the same BEANS-format folder (the synthetic `synth_birds` set, written once before
any timing; N = its test clips) and end with NMI of k-means on the test embeddings:

* project: `experiment.run_experiment` with ResNet-18 (random init), reducer "none", k-means,
  no probes, in a fresh workdir each repeat (so tfds preparation, extraction and evaluation are
  all redone; the persistent XLA cache and the random-init cache (zoo/init_cache.py) are warm
  after the first repeat, which is reported apart as "cold"), with launch/run.py's CPU XLA
  flags (launch/cpu_defaults.py). Report writing (report.md, figures) is part of the project's run and is timed.
* torch: what a BEANS user writes: a `Dataset` reading each wav (soundfile), a `DataLoader`,
  BEANS' mel in torch (torch.stft + an HTK mel filterbank from librosa: n_fft 0.05 s, hop
  0.01 s, 128 mels, power 2, divided by the batch maximum, 3 channels), torchvision resnet18
  in eval mode, sklearn KMeans(k = classes) and normalized_mutual_info_score.

`--regime=finetuned` fine-tunes before the test split is embedded, in both, by the BEANS
protocol: every learning rate of `--learning_rates` (the paper's grid by default) from the same
start, Adam, batch 32, `--epochs` epochs, validation accuracy after each epoch, the best
(lr, epoch) on valid kept, its backbone embeds the test split. The project runs its
train/finetune.py (the grid in one compiled program, precise-BN recalibration, orbax
checkpoints of the best epoch and resume points); the torch script is what a BEANS user writes
(a loop per lr, `copy.deepcopy` of the best state in memory). The two pipelines alternate in
one process, and the medians of `--repeats` runs are compared (torch / project > 1 means the
project is faster).
`--width` shrinks the project's ResNet (and the torch one is built by the zoo's torch twin at the
same width) where full size is too slow for the machine.
"""

from __future__ import annotations

import cProfile
import csv
import dataclasses
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)

_SIZE = flags.DEFINE_enum("size", "small", ["tiny", "small", "full"], "synthetic suite size")
_REGIME = flags.DEFINE_enum("regime", "frozen", ["frozen", "finetuned"], "what is timed")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed runs per pipeline (median)")
_WIDTH = flags.DEFINE_integer("width", 0, "ResNet width override (0 = full size, 64)")
_BATCH = flags.DEFINE_integer("batch", 32, "extraction and training batch")
_OUT = flags.DEFINE_string("out", None, "markdown file for the results (printed if unset)")
_TEST_CLIPS = flags.DEFINE_integer(
    "test_clips", 0, "test clips (rounded up to a multiple of the 8 classes; 0 = --size's "
    "count): the issue's regime is 1,000 clips")
_PROFILE = flags.DEFINE_string(
    "profile", None, "writes a cProfile of the last warm project run to this file (pstats)")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "finetuned: epochs per learning rate")
_LRS = flags.DEFINE_list("learning_rates", ["1e-5", "5e-5", "1e-4", "5e-4"],
                         "finetuned: the learning-rate grid (the paper's by default)")
_DATASET = "synth_birds"


# ---------------------------------------------------------------------------------------------
# The BEANS-style PyTorch pipeline (self-contained on purpose: it is the user's script).
# ---------------------------------------------------------------------------------------------

def _torch_pipeline(root: str, regime: str, width: int, batch: int, epochs: int,
                    lrs: tuple[float, ...]) -> dict:
  import copy  # pylint: disable=g-import-not-at-top
  import librosa  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import soundfile  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from sklearn import cluster, metrics  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)  # the same random init every run
  folder = os.path.join(root, _DATASET)
  meta = json.load(open(os.path.join(folder, "dataset.json")))
  rate, clip = int(meta["sample_rate"]), float(meta["clip_seconds"])
  table = lambda split: list(csv.DictReader(  # noqa: E731
      open(os.path.join(folder, meta["splits"][split]))))
  classes = sorted({r["label"] for s in ("train", "test") for r in table(s)})

  class Clips(torch.utils.data.Dataset):
    def __init__(self, split):
      self.rows = table(split)

    def __len__(self):
      return len(self.rows)

    def __getitem__(self, i):
      x, sr = soundfile.read(os.path.join(folder, self.rows[i]["path"]), dtype="float32")
      assert sr == rate, (sr, rate)
      n = int(round(clip * rate))
      x = np.pad(x[:n], (0, max(0, n - len(x))))
      return torch.from_numpy(x), classes.index(self.rows[i]["label"])

  n_fft, hop = int(0.05 * rate), int(0.01 * rate)
  fb = torch.from_numpy(librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=128, htk=True,
                                            norm=None)).float()
  window = torch.hann_window(n_fft)

  def mel3(x):
    spec = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="reflect",
                      return_complex=True).abs() ** 2
    m = fb @ spec  # [B, 128, frames]
    m = m / m.amax()
    return m[:, None].expand(-1, 3, -1, -1)

  loader = lambda split, shuffle: torch.utils.data.DataLoader(  # noqa: E731
      Clips(split), batch_size=batch, shuffle=shuffle)
  if width:
    from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top  (same-width twin)
    model = zoo.get_preset("rn18").torch_reference(width=width)
  else:
    model = torchvision.models.resnet18()
  if regime == "finetuned":  # BEANS: each lr from the same start, the best (lr, epoch) on valid
    start, best_accuracy, best_state = copy.deepcopy(model.state_dict()), -1.0, None
    for lr in lrs:
      model.load_state_dict(start)
      torch.manual_seed(1)  # the same head at every lr
      net = torch.nn.Sequential(model, torch.nn.Linear(1000, len(classes)))
      opt = torch.optim.Adam(net.parameters(), lr=lr)
      for _ in range(epochs):
        net.train()
        for x, y in loader("train", True):
          opt.zero_grad()
          torch.nn.functional.cross_entropy(net(mel3(x)), y).backward()
          opt.step()
        net.eval()
        with torch.no_grad():
          hits = [(net(mel3(x)).argmax(-1) == y).float() for x, y in loader("valid", False)]
        accuracy = float(torch.cat(hits).mean())
        if accuracy > best_accuracy:
          best_accuracy, best_state = accuracy, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
  model.eval()
  embeddings, labels = [], []
  with torch.no_grad():
    for x, y in loader("test", False):
      embeddings.append(model(mel3(x)).numpy())
      labels.append(y.numpy())
  emb, lab = np.concatenate(embeddings), np.concatenate(labels)
  pred = cluster.KMeans(len(classes), n_init=10, random_state=0).fit_predict(emb)
  return {"nmi": float(metrics.normalized_mutual_info_score(lab, pred)), "n": len(lab)}


# ---------------------------------------------------------------------------------------------
# The project.
# ---------------------------------------------------------------------------------------------

def _project_config(root: str, regime: str, width: int, batch: int, epochs: int,
                    lrs: tuple[float, ...]):
  from launch import config_loader  # pylint: disable=g-import-not-at-top
  quickstart = os.path.join(os.path.dirname(__file__), "..", "configs", "quickstart.py")
  config = config_loader.load(f"{quickstart}:models=rn18,datasets={_DATASET},regimes={regime}")
  return config_loader.apply(config, {
      "data.root": root, "data.synthetic_size": "",
      "model_overrides": {"width": width} if width else {}, "embed.batch_size": batch,
      "evaluate.reducers": ("none",), "evaluate.clusterers": ("kmeans",),
      "evaluate.probes": (), "train.num_epochs": epochs, "train.learning_rates": lrs,
      "train.batch_size": batch}, "bench_e2e")


def _project_pipeline(root: str, regime: str, width: int, batch: int, epochs: int,
                      lrs: tuple[float, ...]) -> dict:
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  workdir = tempfile.mkdtemp(prefix="bench_e2e_")
  try:
    config = _project_config(root, regime, width, batch, epochs, lrs)
    results = experiment.run_experiment(config, workdir)
    rows = list(csv.DictReader(open(results)))
    row = next(r for r in rows if r.get("clusterer") == "kmeans")
    return {"nmi": float(row["nmi"]), "n": int(float(row["n"]))}
  finally:
    shutil.rmtree(workdir, ignore_errors=True)


def _timed(fn, *args) -> tuple[float, dict]:
  start = time.perf_counter()
  out = fn(*args)
  return time.perf_counter() - start, out


def main(argv):
  del argv
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()  # what launch/run.py does before JAX starts (one XLA device per core)
  import jax  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.zoo import init_cache  # pylint: disable=g-import-not-at-top
  from launch import compile_cache  # pylint: disable=g-import-not-at-top

  scratch = tempfile.mkdtemp(prefix="bench_e2e_data_")
  root = os.path.join(scratch, "data")
  size = synthetic.SIZES[_SIZE.value]
  if _TEST_CLIPS.value:  # train/valid stay as small as the frozen regime allows
    per_class = -(-_TEST_CLIPS.value // len(synthetic.ROSTER[_DATASET].species))
    size = dataclasses.replace(size, clips_per_class=(*size.clips_per_class[:2], per_class))
  synthetic.write_suite(root, size=size, seed=0, names=[_DATASET])
  compile_cache.enable(os.path.join(scratch, "xla_cache"))  # cold on the first project run
  os.environ[init_cache.ENV] = os.path.join(scratch, "init_cache")  # the random init: likewise
  args = (root, _REGIME.value, _WIDTH.value, _BATCH.value, _EPOCHS.value,
          tuple(float(lr) for lr in _LRS.value))
  project, torch_runs = [], []
  for i in range(_REPEATS.value + 1):  # run 0: cold compile cache, warm-up for torch
    profiler = cProfile.Profile() if _PROFILE.value and i == _REPEATS.value else None
    if profiler:
      profiler.enable()
    project.append(_timed(_project_pipeline, *args))
    if profiler:
      profiler.disable()
      profiler.dump_stats(_PROFILE.value)
    torch_runs.append(_timed(_torch_pipeline, *args))
    print({"project_s": project[-1][0], "torch_s": torch_runs[-1][0],
           "project": project[-1][1], "torch": torch_runs[-1][1]}, flush=True)
  shutil.rmtree(scratch, ignore_errors=True)
  p = statistics.median(t for t, _ in project[1:])
  t = statistics.median(t for t, _ in torch_runs[1:])
  command = "nice python -m experiments.perf.bench_e2e " + " ".join(sys.argv[1:])
  lines = [
      f"# End to end ({_REGIME.value}): {_DATASET} test split ({project[-1][1]['n'] or '?'} "
      f"clips) -> k-means NMI, project vs BEANS-style PyTorch",
      "",
      f"Command: `{command}`  ",
      f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), "
      f"load avg {os.getloadavg()[0]:.1f} at the end; JAX {jax.__version__} on "
      f"{jax.devices()[0].platform}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
      f"ResNet-18 width {_WIDTH.value or 64}, batch {_BATCH.value}, suite size {_SIZE.value}"
      + (f"; fine-tuning: lrs {_LRS.value} x {_EPOCHS.value} epochs, validation each epoch."
         if _REGIME.value == "finetuned" else "."),
      "",
      "| pipeline | cold run s | median of warm runs s | NMI |",
      "|---|---:|---:|---:|",
      f"| project (run_experiment) | {project[0][0]:.1f} | {p:.1f} | {project[-1][1]['nmi']:.3f} |",
      f"| torch (DataLoader + torch mel + torchvision + sklearn) | {torch_runs[0][0]:.1f} | "
      f"{t:.1f} | {torch_runs[-1][1]['nmi']:.3f} |",
      "",
      f"**torch / project = {t / p:.2f}** (median of {_REPEATS.value} warm runs each; > 1: the "
      f"project is faster). Runs: project {[round(x, 1) for x, _ in project]} s, torch "
      f"{[round(x, 1) for x, _ in torch_runs]} s.",
  ]
  text = "\n".join(lines) + "\n"
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
      f.write(text)
  print(text)


if __name__ == "__main__":
  app.run(main)
