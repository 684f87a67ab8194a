r"""The learning-rate grid in one compiled program (train/grid_fit.py) vs one lr at a time.

    nice python -m experiments.perf.bench_grid --size=tiny --width=8 --epochs=3 --repeats=3 \
        --out=experiments/perf/results/grid_cpu.md

Both fine-tune the paper's rn18 (random init, paper_mel3, `--width` shrinks it) on the synthetic
synth_birds set with `train/finetune.py` (the paper's protocol: Adam, batch 32, the 4-lr grid
{1e-5, 5e-5, 1e-4, 5e-4}, validation and best epoch every epoch, checkpoints), in a fresh
workdir each run; the only difference is `train.grid_members`: 1 (one lr after the other, each
with its own compiled step, validation and recalibration) or 0 (auto: all four in one vmapped
step). They alternate in one process; run 0 of each is cold (XLA's persistent cache empty),
the others warm (the cache serves the compiled programs, as for a repeated or resumed run).
The selected lr, epoch and metric must agree (the grid equals the one-at-a-time runs).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags

_SIZE = flags.DEFINE_enum("size", "tiny", ["tiny", "small"], "synthetic suite size")
_WIDTH = flags.DEFINE_integer("width", 8, "rn18 width (64 = full size)")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "epochs per learning rate")
_REPEATS = flags.DEFINE_integer("repeats", 3, "warm runs per mode (median), after a cold one")
_OUT = flags.DEFINE_string("out", None, "markdown file for the results (printed if unset)")
_DATASET = "synth_birds"
_MODES = {"one lr at a time (grid_members=1)": 1, "grid in one program (grid_members=0)": 0}


def _run(splits, members: int) -> tuple[float, tuple]:
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import config as config_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import finetune  # pylint: disable=g-import-not-at-top
  cfg = config_lib.default_train_config()
  cfg.update(dict(num_epochs=_EPOCHS.value, grid_members=members, tensorboard=False,
                  progress_bar=False))
  workdir = tempfile.mkdtemp(prefix="bench_grid_")
  try:
    start = time.perf_counter()
    backbone = zoo.resolve("rn18", {"width": _WIDTH.value})
    _, result = finetune.finetune(backbone, splits[0], splits[1], cfg, workdir)
    seconds = time.perf_counter() - start
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  return seconds, (result.learning_rate, result.best_epoch, round(result.best_metric, 4))


def main(argv):
  del argv
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()  # launch/run.py's XLA flags, before JAX starts
  import jax  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  from experiments.perf import output  # pylint: disable=g-import-not-at-top
  from launch import compile_cache  # pylint: disable=g-import-not-at-top

  scratch = tempfile.mkdtemp(prefix="bench_grid_data_")
  root = os.path.join(scratch, "data")
  synthetic.write_suite(root, size=_SIZE.value, seed=0, names=[_DATASET])
  compile_cache.enable(os.path.join(scratch, "xla_cache"))
  splits = [pipeline.open_split(_DATASET, s, data_root=root) for s in ("train", "valid")]
  runs: dict[str, list] = {name: [] for name in _MODES}
  for i in range(_REPEATS.value + 1):
    for name, members in _MODES.items():
      runs[name].append(_run(splits, members))
      print(i, name, runs[name][-1], flush=True)
  shutil.rmtree(scratch, ignore_errors=True)
  warm = {name: statistics.median(t for t, _ in r[1:]) for name, r in runs.items()}
  (seq_name, seq), (grid_name, grid) = warm.items()
  command = "nice python -m experiments.perf.bench_grid " + " ".join(sys.argv[1:])
  lines = [
      f"# Learning-rate grid: one compiled program vs one lr at a time ({_DATASET}, "
      f"{_SIZE.value}, rn18 width {_WIDTH.value}, {_EPOCHS.value} epochs x 4 lrs)", "",
      f"Command: `{command}`  ",
      f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs (load "
      f"avg {os.getloadavg()[0]:.1f} at the end); JAX {jax.__version__} on "
      f"{jax.devices()[0].platform}. The two modes alternate, so load hits both alike.", "",
      "| mode | cold run s | median of warm runs s | runs s | selected (lr, epoch, metric) |",
      "|---|---:|---:|---|---|",
  ]
  for name, r in runs.items():
    lines.append(f"| {name} | {r[0][0]:.1f} | {warm[name]:.1f} | "
                 f"{[round(t, 1) for t, _ in r]} | {r[-1][1]} |")
  lines += ["", f"**speed-up (one at a time / grid, warm medians) = {seq / grid:.2f}x**; cold: "
            f"{runs[seq_name][0][0] / runs[grid_name][0][0]:.2f}x."]
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  app.run(main)
