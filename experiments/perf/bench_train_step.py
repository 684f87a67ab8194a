r"""The project's fine-tuning train step, alone and as a learning-rate grid, vs PyTorch.

    nice python -m experiments.perf.bench_train_step --width=8 --batch=32 --repeats=5 \
        --out=experiments/perf/results/train_step_cpu.md
    python -m experiments.perf.bench_train_step --repeats=20   # GPU (gpu_check.sh runs it)

Project: the step train/finetune.py runs (train/step.py through parallel/data_parallel.py:
the rn18 recipe on the device from 3 s of 16 kHz audio, masked loss, cross-replica BatchNorm,
Adam, the state donated), float32 and, with `--bf16`, bfloat16 compute; and the same step
vmapped over a `--grid`-member learning-rate grid (train/grid_fit.py; one batch and one recipe
for all members), reported per member too. PyTorch: torchvision-style resnet18 (the zoo's torch
twin at `--width`) + a 10-way head, Adam, cross-entropy on the same mel input (computed once by
the project's recipe: the torch side skips the recipe, which favours it), eager float32, AMP
(autocast bfloat16 on CUDA; CPU autocast is skipped), and torch.compile of the model. Batches
are on the device before timing for both; each number is the median of `--repeats` steps taken
in turns, after a warm-up (compile) call. Last column: the project's f32 step ms / the row's ms
(> 1: the row is faster than the project's f32 step).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

from absl import app
from absl import flags

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)

_WIDTH = flags.DEFINE_integer("width", 0, "rn18 width (0 = full size, 64)")
_BATCH = flags.DEFINE_integer("batch", 32, "global batch")
_REPEATS = flags.DEFINE_integer("repeats", 5, "timed steps per variant (median)")
_GRID = flags.DEFINE_integer("grid", 4, "learning-rate grid members (0 = skip the grid)")
_BF16 = flags.DEFINE_bool("bf16", False, "also the project's bfloat16-compute step")
_TORCH = flags.DEFINE_list("torch_variants", ["eager", "amp", "compile"], "torch variants")
_OUT = flags.DEFINE_string("out", None, "markdown file for the results (printed if unset)")
RATE, SECONDS, CLASSES = 16000, 3.0, 10


def _project_steps(batch: dict, grid: int, bf16: bool) -> dict:
  """{name: step()} for the project's step(s), each blocking until its state is ready."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models import initialize  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models.classifier import Classifier  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import config as config_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import grid_step  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import optimizer  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train.state import TrainState  # pylint: disable=g-import-not-at-top

  backbone = zoo.resolve("rn18", {"width": _WIDTH.value} if _WIDTH.value else {})
  recipe, cfg = backbone.recipe, config_lib.default_train_config()
  sample = recipe.prepare(jnp.zeros((1, batch["audio"].shape[1])), RATE)
  out = {}
  for dtype in [None] + ([jnp.bfloat16] if bf16 else []):
    module = Classifier(backbone.training_module(cross_replica_bn=True, dtype=dtype), CLASSES)
    variables = initialize.init(module, jax.random.key(0), sample, train=False)
    make_tx = lambda lr, v=variables: optimizer.make_optimizer(  # noqa: E731
        cfg, v["params"], 1000, lr)
    per_device = step_lib.make_train_step(
        module, recipe.prepare, RATE, task="classification", num_classes=CLASSES,
        compute_dtype=dtype, frontend_on_global_batch=recipe.uses_batch_statistics)
    name = "bf16" if dtype is not None else "f32"
    state = TrainState.create(variables, make_tx(1e-4))
    out[f"project {name}"] = _runner_step(data_parallel.DataParallel(per_device), state, batch)
    if grid and dtype is None:
      lrs = np.geomspace(1e-5, 5e-4, grid).astype(np.float32)
      stacked = jax.tree.map(lambda x: np.stack([np.asarray(x)] * grid), state)
      runner = data_parallel.DataParallel(grid_step.make_grid_step(per_device, make_tx))
      out[f"project {name} grid of {grid}"] = _runner_step(runner, (stacked, lrs), batch)
  return out


def _runner_step(runner, state, batch):
  import jax  # pylint: disable=g-import-not-at-top
  holder = [runner.put_state(state)]
  placed, rng = runner.put_batch(batch), runner.put_rng(jax.random.key(0))

  def step():
    holder[0], metrics = runner.step(holder[0], placed, rng)
    jax.block_until_ready(metrics)

  return step


def _torch_steps(mel, labels, variants) -> tuple[dict, str]:
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  device = "cuda" if torch.cuda.is_available() else "cpu"
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
  x = torch.from_numpy(mel.transpose(0, 3, 1, 2).copy()).to(device)  # NHWC -> NCHW
  y = torch.from_numpy(labels.astype("int64")).to(device)
  out = {}
  for variant in variants:
    if variant == "amp" and device != "cuda":
      continue
    torch.manual_seed(0)
    model = (zoo.get_preset("rn18").torch_reference(width=_WIDTH.value) if _WIDTH.value
             else torchvision.models.resnet18())
    net = torch.nn.Sequential(model, torch.nn.Linear(1000, CLASSES)).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    forward = torch.compile(net) if variant == "compile" else net

    def step(forward=forward, opt=opt, amp=variant == "amp"):
      opt.zero_grad()
      with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp):
        loss = torch.nn.functional.cross_entropy(forward(x).float(), y)
      loss.backward()
      opt.step()
      sync()

    out[f"torch {variant}"] = step
  return out, device


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def main(argv):
  del argv
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from experiments.perf import output  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  n = int(RATE * SECONDS)
  batch = {"audio": rng.normal(size=(_BATCH.value, n)).astype(np.float32),
           "label": (np.arange(_BATCH.value) % CLASSES).astype(np.int32),
           "mask": np.ones(_BATCH.value, bool)}
  mel = np.asarray(zoo.resolve("rn18").recipe.prepare(batch["audio"], RATE))
  steps = _project_steps(batch, _GRID.value, _BF16.value)
  torch_steps, device = _torch_steps(mel, batch["label"], _TORCH.value)
  steps.update(torch_steps)
  first = {name: _timed(fn) for name, fn in steps.items()}  # compile / warm-up
  times = {name: [] for name in steps}
  for _ in range(_REPEATS.value):
    for name, fn in steps.items():
      times[name].append(_timed(fn))
  ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
  base = ms["project f32"]
  command = "python -m experiments.perf.bench_train_step " + " ".join(sys.argv[1:])
  lines = [f"# Train step: project vs PyTorch (rn18 width {_WIDTH.value or 64}, batch "
           f"{_BATCH.value}, mel input {'x'.join(map(str, mel.shape))})", "",
           f"Command: `{command}`  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, load avg "
           f"{os.getloadavg()[0]:.1f}; JAX {jax.__version__} on {jax.devices()[0].platform} "
           f"({jax.devices()[0].device_kind}); torch on {device}.", "",
           "| variant | first call s | median ms/step | ms per lr | project f32 ms / this |",
           "|---|---:|---:|---:|---:|"]
  for name in steps:
    per_lr = ms[name] / _GRID.value if "grid" in name else ms[name]
    lines.append(f"| {name} | {first[name]:.1f} | {ms[name]:.1f} | {per_lr:.1f} | "
                 f"{base / ms[name]:.2f} |")
  lines += ["", "Grid rows: one step trains every member; `ms per lr` divides by the members. "
            "`project f32 ms / this` > 1: this row's step is faster than the project's f32 "
            "step (for a torch row: torch is faster); < 1: slower."]
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  app.run(main)
