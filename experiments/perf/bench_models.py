r"""Full-size CNN backbones: parameter counts, parity and forward time, Flax (jit) vs PyTorch.

  nice .venv/bin/python -m experiments.perf.bench_models \
      --out=experiments/perf/results/models_cpu.md

For each model: the torch reference (random init, with random non-zero biases and calibrated
BatchNorm statistics, see porting/parity.py) is ported to Flax; both get the same batch at the
paper's input size (BEANS mel: 128 mels x `--frames` frames x 3 channels, values in [0, 1) as
after the recipe's division by the batch maximum; VGGish: `--patches` 96x64 log-mel patches per
example) and we report the parameter counts, the max |Flax - torch| on the embedding, and the
median forward time over `--repeats` runs: Flax jitted (after compilation; compile time reported
separately) and PyTorch eager under `torch.no_grad()` (after one warm-up call). The two
frameworks' runs alternate so that both see the same load on a shared machine.

XLA's CPU backend in jax 0.10 hands fused dot/elementwise graphs to YNNPACK by default; for
models dominated by large Linear layers at small batch (VGGish) that was ~10x slower here.
Run once more with `XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=` (empty: no YNNPACK
fusion) to compare; the header records the flags used.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

from absl import app
from absl import flags

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)

_MODELS = flags.DEFINE_list(
    "models", ["alexnet", "resnet18", "resnet50", "resnet152", "vgg16", "efficientnet_b0",
               "vggish"], "Registered model names to benchmark.")
_BATCH = flags.DEFINE_integer("batch", 8, "Batch size.")
_FRAMES = flags.DEFINE_integer("frames", 300, "Time frames of the CNN mel input (100 per s).")
_PATCHES = flags.DEFINE_integer("patches", 3, "VGGish patches (0.96 s each) per example.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed forward passes per framework (median).")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")


def _seconds(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def bench_one(name: str, batch: int, frames: int, patches: int, repeats: int) -> dict[str, Any]:
  """Ports `name` at full size and measures it; returns one table row."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import parity  # pylint: disable=g-import-not-at-top

  spec = zoo.get_preset(name)
  rng = np.random.default_rng(0)
  torch.manual_seed(0)
  vggish = spec.recipe == "vggish_logmel"
  shape = (batch, patches, 96, 64, 1) if vggish else (batch, 128, frames, 3)
  x = (rng.standard_normal(shape) if vggish else rng.random(shape)).astype(np.float32)
  calib = None if vggish else rng.random((2,) + shape[1:]).astype(np.float32)
  torch_model, module, variables = parity.reference_and_port(spec, x, calibrate_on=calib)

  if vggish:
    torch_x = torch.from_numpy(np.ascontiguousarray(
        x.reshape(-1, 96, 64, 1).transpose(0, 3, 1, 2)))
    torch_call = lambda: torch_model(torch_x).reshape(batch, patches, -1).mean(1)
  else:
    torch_x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    torch_call = lambda: torch_model(torch_x)

  forward = jax.jit(lambda v, x: module.apply(v, x)[1]["embedding"])
  variables = jax.device_put(variables)
  x_device = jax.device_put(x)
  start = time.perf_counter()
  flax_out = np.asarray(jax.block_until_ready(forward(variables, x_device)))
  compile_s = time.perf_counter() - start

  # Flax and torch runs alternate, so both see the same (shared-machine) load over time.
  load_before = os.getloadavg()[0]
  flax_times, torch_times = [], []
  with torch.no_grad():
    torch_out = torch_call().numpy()  # warm-up (and the parity reference)
    for _ in range(repeats):
      flax_times.append(_seconds(lambda: jax.block_until_ready(forward(variables, x_device))))
      torch_times.append(_seconds(torch_call))
  flax_s, torch_s = statistics.median(flax_times), statistics.median(torch_times)

  return {
      "model": name,
      "architecture": spec.architecture,
      "input": "x".join(str(d) for d in shape),
      "params_flax": int(sum(np.size(p) for p in jax.tree.leaves(variables["params"]))),
      "params_torch": int(sum(p.numel() for p in torch_model.parameters())),
      "embedding_dim": int(flax_out.shape[-1]),
      "max_abs_diff": parity.max_abs_diff(flax_out, torch_out),
      "max_abs_out": float(np.max(np.abs(torch_out))),
      "flax_ms": 1e3 * flax_s,
      "compile_s": compile_s,
      "torch_ms": 1e3 * torch_s,
      "load_avg": (load_before + os.getloadavg()[0]) / 2,
  }


def to_markdown(rows: list[dict[str, Any]], header: str) -> str:
  lines = [header, "",
           "| model | input (NHWC) | params Flax | params torch | emb dim | max abs diff "
           "(max abs output) | Flax jit ms | Flax compile s | torch eager ms | torch / Flax | "
           "load avg |",
           "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(
        f"| {r['model']} | {r['input']} | {r['params_flax']:,} | {r['params_torch']:,}"
        f"{'' if r['params_flax'] == r['params_torch'] else ' (MISMATCH)'} | "
        f"{r['embedding_dim']} | {r['max_abs_diff']:.1e} ({r['max_abs_out']:.3g}) | "
        f"{r['flax_ms']:.0f} | {r['compile_s']:.1f} | {r['torch_ms']:.0f} | "
        f"{r['torch_ms'] / r['flax_ms']:.2f} | {r['load_avg']:.1f} |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  rows = []
  for name in _MODELS.value:
    row = bench_one(name, _BATCH.value, _FRAMES.value, _PATCHES.value, _REPEATS.value)
    print(row, flush=True)
    rows.append(row)
  header = (
      f"# Full-size backbones: Flax (jit) vs PyTorch (eager), batch {_BATCH.value}, forward only\n\n"
      f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
      f"(shared with other jobs while measured), JAX {jax.__version__} on "
      f"{jax.devices()[0].platform} ({jax.device_count()} devices), torch {torch.__version__} "
      f"with {torch.get_num_threads()} threads, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}. "
      f"Median of {_REPEATS.value} runs after compilation / warm-up, Flax and torch runs "
      "alternating; 'load avg' is the machine's 1-min load average during the runs. Random weights with randomised biases and calibrated BatchNorm "
      "statistics; max abs diff is on the embedding (1000-d logits; VGGish: 128-d patch mean).\n"
      f"Command: `nice .venv/bin/python -m experiments.perf.bench_models "
      f"--batch={_BATCH.value} --frames={_FRAMES.value} --patches={_PATCHES.value} "
      f"--repeats={_REPEATS.value}`")
  table = to_markdown(rows, header)
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
      f.write(table)
  print(table)


if __name__ == "__main__":
  app.run(main)
