r"""Train-step speed: Flax ResNet-18 (our data-parallel step) vs the same model in PyTorch, CPU.

    nice python experiments/perf/bench_train.py --repeats 5 \
        --out experiments/perf/results/train_cpu.md

Input: batch 32 of 128 mels x 300 frames x 3 channels (the paper's CNN input for 3 s clips),
a fresh 10-way linear head on the 1000-d ResNet output (the fine-tuning model), Adam,
softmax cross-entropy. Every variant runs in its own process (XLA flags and the fake device
count are fixed when JAX starts): compile time (first call minus a step), then the median of
`--repeats` timed steps. Flax variants: XLA CPU flags, donation on/off, 1..8 fake devices
(scaling on fake devices shows the data-parallel overhead; they share the same cores).
PyTorch: torchvision resnet18 in NCHW and channels_last.

`--worker stem` (alone: `--only stem --out ...`) times the folded stem (models/stem.py) in one
process, alternating: the Flax train step fed the 3 identical channels vs the channel once,
and the stem convolution alone (forward + gradient of its kernel) both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (name, XLA_FLAGS extra, fake devices, donate) for the Flax runs.
FLAX_VARIANTS = (
    ("flax default (donate)", "", 1, True),
    ("flax no donation", "", 1, False),
    ("flax xla_cpu_use_onednn", "--xla_cpu_use_onednn=true", 1, True),
    ("flax xla_cpu_use_xnnpack", "--xla_cpu_use_xnnpack=true", 1, True),
    ("flax xla_cpu_enable_fast_math", "--xla_cpu_enable_fast_math=true", 1, True),
    ("flax 2 devices", "", 2, True),
    ("flax 4 devices", "", 4, True),
    ("flax 8 devices", "", 8, True),
)
TORCH_VARIANTS = (("torch NCHW", False), ("torch channels_last", True))


def _timed(fn, repeats: int) -> dict:
  """Calls fn() 1 + repeats times: wall and CPU (all threads of this process) seconds each.

  CPU seconds are the steadier number on a shared machine: other jobs stretch the wall time
  of a step but not the work the step itself does.
  """
  wall, cpu = [], []
  for _ in range(repeats + 1):
    w, c = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - w)
    cpu.append(time.process_time() - c)
  median = statistics.median(wall[1:])
  return {"first_call_s": wall[0], "compile_s": max(wall[0] - median, 0.0), "step_s": median,
          "cpu_s": statistics.median(cpu[1:]), "steps": wall[1:]}


def _flax_setup(args):
  """(step_fn() running one data-parallel Flax train step, number of devices)."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from jax.sharding import PartitionSpec as P  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models.classifier import Classifier  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train.state import TrainState  # pylint: disable=g-import-not-at-top

  overrides = {"width": args.width} if args.width else {}
  backbone = zoo.get_preset("rn18").build(bn_axis_name="data", **overrides)
  model = Classifier(backbone, 10)
  x = np.random.default_rng(0).random((args.batch, 128, args.frames, 1), np.float32)
  x = np.repeat(x, args.channels, axis=-1)  # the paper's 3 identical channels, or 1 (folded)
  variables = jax.jit(model.init)(jax.random.key(0), x[:1])
  state = TrainState.create(variables, optax.adam(1e-4))
  # The mel is precomputed (as the PyTorch side gets it): the recipe is the identity here.
  step = step_lib.make_train_step(model, lambda a, sr: a, 0, task="classification",
                                  num_classes=10, frontend_on_global_batch=False)
  batch = {"audio": x, "label": np.arange(args.batch, dtype=np.int32) % 10,
           "mask": np.ones(args.batch, bool)}
  runner = data_parallel.DataParallel(step, "shard_map")
  if not args.donate:  # same step, same mesh, without donate_argnums
    runner._step = jax.jit(jax.shard_map(  # pylint: disable=protected-access
        step, mesh=runner.mesh, in_specs=(P(), P("data"), P()), out_specs=(P(), P())))
  holder = {"state": runner.put_state(state)}
  dbatch = runner.put_batch(batch)
  rng = jax.random.key(0)

  def one_step():
    holder["state"], metrics = runner.step(holder["state"], dbatch, rng)
    metrics["loss"].block_until_ready()

  return one_step, jax.device_count()


def flax_worker(args) -> dict:
  one_step, devices = _flax_setup(args)
  return dict(_timed(one_step, args.repeats), devices=devices)


def _torch_setup(args):
  """step_fn() running one PyTorch train step of the same model."""
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  width = args.width or 64
  backbone = torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2])
  if width != 64:
    raise SystemExit("--width only applies to Flax; PyTorch always runs the full ResNet-18")
  model = torch.nn.Sequential(backbone, torch.nn.Linear(1000, 10))
  x = torch.rand(args.batch, 3, 128, args.frames)
  y = torch.arange(args.batch) % 10
  if args.channels_last:
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
  opt = torch.optim.Adam(model.parameters(), lr=1e-4)
  model.train()

  def one_step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

  return one_step


def torch_worker(args) -> dict:
  result = _timed(_torch_setup(args), args.repeats)
  result["compile_s"] = 0.0  # eager: the first call only warms caches
  return result


def paired_worker(args) -> dict:
  """Flax and PyTorch (NCHW and channels_last) in ONE process, steps alternating, so all see
  the same machine load: the fairest comparison on a shared machine."""
  steps = {"flax": _flax_setup(args)[0]}
  args.channels_last = 0
  steps["torch NCHW"] = _torch_setup(args)
  args.channels_last = 1
  steps["torch channels_last"] = _torch_setup(args)
  return _alternate(steps, args.repeats)


def stem_worker(args) -> dict:
  """The folded stem: train step and stem convolution, 3 identical channels vs 1, alternating."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models import stem  # pylint: disable=g-import-not-at-top
  steps = {}
  for channels in (3, 1):
    args.channels = channels
    steps[f"train step, {channels} channel(s) in"] = _flax_setup(args)[0]
  conv = stem.StemConv(args.width or 64, 7, 2, padding=3, in_channels=3)
  one = np.random.default_rng(0).random((args.batch, 128, args.frames, 1), np.float32)
  params = conv.init(jax.random.key(0), one)
  grad = jax.jit(jax.grad(lambda p, x: conv.apply(p, x).sum()))
  for channels in (3, 1):
    x = jax.device_put(np.repeat(one, channels, axis=-1))
    steps[f"stem conv forward + gradient, {channels} channel(s) in"] = (
        lambda x=x: jax.block_until_ready(grad(params, x)))
  return _alternate(steps, args.repeats)


def _alternate(steps: dict, repeats: int) -> dict:
  """Each step once to compile, then `repeats` rounds of all of them in turn: medians."""
  for fn in steps.values():
    fn()  # warm-up (compile) outside the timed rounds
  times = {name: [] for name in steps}
  for _ in range(repeats):
    for name, fn in steps.items():
      # Let the other library's worker threads stop spin-waiting (OpenMP, Eigen) so that
      # they do not steal the cores from this step.
      time.sleep(1.0)
      start = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - start)
  return {name: {"step_s": statistics.median(t), "steps": t} for name, t in times.items()}


def _spawn(args, extra: list[str], xla_flags: str | None) -> dict:
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  if xla_flags is not None:
    env["XLA_FLAGS"] = xla_flags
  cmd = [sys.executable, os.path.abspath(__file__), "--repeats", str(args.repeats), "--batch",
         str(args.batch), "--frames", str(args.frames), "--width", str(args.width)] + extra
  proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
  for line in proc.stdout.splitlines():
    if line.startswith("RESULT "):
      return json.loads(line[len("RESULT "):])
  return {"error": (proc.stderr or proc.stdout)[-400:].strip().replace("\n", " ")}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--frames", type=int, default=300)
  parser.add_argument("--width", type=int, default=0, help="Flax only: shrink (smoke runs)")
  parser.add_argument("--out", default="")
  parser.add_argument("--only", default="", help="substring filter on variant names")
  parser.add_argument("--worker", choices=("flax", "torch", "paired", "stem"), default=None)
  parser.add_argument("--channels", type=int, default=3, help="Flax input channels (1: folded)")
  parser.add_argument("--donate", type=int, default=1)
  parser.add_argument("--channels_last", type=int, default=0)
  args = parser.parse_args()
  if args.worker:
    result = {"flax": flax_worker, "torch": torch_worker, "paired": paired_worker,
              "stem": stem_worker}[args.worker](args)
    print("RESULT " + json.dumps(result), flush=True)
    return

  if args.only == "stem":
    _stem_report(args, _spawn(args, ["--worker", "stem"],
                              "--xla_force_host_platform_device_count=1"))
    return
  paired = None
  if args.only in "paired":
    paired = _spawn(args, ["--worker", "paired"], "--xla_force_host_platform_device_count=1")
    print("paired", paired, flush=True)
  rows = []
  for name, channels_last in TORCH_VARIANTS:
    if args.only in name:
      rows.append((name, _spawn(args, ["--worker", "torch", "--channels_last",
                                       str(int(channels_last))], None)))
      print(name, rows[-1][1], flush=True)
  for name, flags, devices, donate in FLAX_VARIANTS:
    if args.only in name:
      xla = f"--xla_force_host_platform_device_count={devices} {flags}".strip()
      rows.append((name, _spawn(args, ["--worker", "flax", "--donate", str(int(donate))], xla)))
      print(name, rows[-1][1], flush=True)
  report = _markdown(args, rows, paired)
  print(report)
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
      f.write(report)


def _stem_report(args, result: dict) -> None:
  if "error" in result:
    raise SystemExit(f"stem worker failed: {result['error']}")
  lines = [
      "# The folded stem (models/stem.py): ResNet-18 fed 3 identical channels vs the channel "
      "once, CPU", "",
      f"Command: `nice python experiments/perf/bench_train.py {' '.join(sys.argv[1:])}`  ",
      f"Batch {args.batch} x 128 mels x {args.frames} frames, width {args.width or 64}, 10-way "
      f"head, Adam, one XLA CPU device; all variants in one process, alternating, median of "
      f"{args.repeats} after a warm-up call. Machine: {os.cpu_count()} CPU cores shared with "
      f"other jobs (load avg {os.getloadavg()[0]:.1f} at the end).", "",
      "| variant | median s | runs s |", "|---|---:|---|"]
  for name, r in result.items():
    lines.append(f"| {name} | {r['step_s']:.3f} | {[round(t, 3) for t in r['steps']]} |")
  for what in ("train step", "stem conv forward + gradient"):
    three, one = (result[f"{what}, {c} channel(s) in"]["step_s"] for c in (3, 1))
    lines.append(f"\n{what}: 3 channels / folded = **{three / one:.2f}x**")
  text = "\n".join(lines) + "\n"
  print(text)
  if args.out:
    with open(args.out, "w") as f:
      f.write(text)


def _markdown(args, rows, paired) -> str:
  lines = [
      "# Train step: Flax vs PyTorch, ResNet-18, CPU", "",
      f"Batch {args.batch} x 128 mels x {args.frames} frames x 3 channels, 10-way head, Adam; "
      f"median of {args.repeats} steps after one warm-up call; each variant in its own process. "
      f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
      "(shared with other jobs: compare rows taken in the same run only). "
      "Produced by `experiments/perf/bench_train.py`.", "",
      ""]
  if paired and "error" not in paired:
    flax = paired["flax"]["step_s"]
    lines += ["Paired (one process; Flax default, PyTorch NCHW and PyTorch channels_last steps "
              "take turns, so all see the same load):", "",
              "| paired variant | step wall (s) | examples/s | Flax / this |", "|---|---|---|---|"]
    for name, r in paired.items():
      lines.append(f"| {name} | {r['step_s']:.3f} | {args.batch / r['step_s']:.1f} | "
                   f"{flax / r['step_s']:.2f} |")
    lines.append("")
  elif paired:
    lines += [f"Paired run failed: {paired['error'][:200]}", ""]
  lines += [
      "| variant | step wall (s) | step CPU (s) | steps/s | examples/s | compile (s) "
      "| min..max wall (s) |",
      "|---|---|---|---|---|---|---|"]
  for name, r in rows:
    if "error" in r:
      lines.append(f"| {name} | failed: {r['error'][:120]} | | | | | |")
      continue
    lines.append(f"| {name} | {r['step_s']:.3f} | {r['cpu_s']:.2f} | {1 / r['step_s']:.3f} | "
                 f"{args.batch / r['step_s']:.1f} | {r['compile_s']:.1f} | "
                 f"{min(r['steps']):.2f}..{max(r['steps']):.2f} |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  main()
