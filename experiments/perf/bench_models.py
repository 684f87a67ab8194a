r"""Full-size backbones: parity, extraction and train-step speed, Flax (jit) vs PyTorch.

  nice .venv/bin/python -m experiments.perf.bench_models \
      --out=experiments/perf/results/models_cpu.md

For each model: the torch reference (random init, with random non-zero biases and calibrated
BatchNorm statistics, see porting/parity.py) is ported to Flax; both get the same batch at the
paper's input size (BEANS mel: 128 mels x `--frames` frames x 3 channels, values in [0, 1) as
after the recipe's division by the batch maximum; VGGish: `--patches` 96x64 log-mel patches per
example; AST: its 1024 x 128 fbank; AVES/HuBERT: `--seconds` of 16 kHz waveform) and we report
the parameter counts, the max |Flax - torch| on the embedding, and median times over
`--repeats` runs, Flax and torch calls alternating so both see the same load:

* extraction (forward, no gradients): Flax jit in float32 and bfloat16 (`--flax_dtypes`)
  against torch eager float32, AMP (autocast bfloat16) and torch.compile (`--torch_variants`;
  each where it runs: a variant that raises is reported as such, not dropped silently);
* `--train`: one optimisation step (softmax cross-entropy on a fresh linear head over the
  embedding, Adam) of Flax float32 against torch eager and AMP, input included (the batch is
  copied from host memory inside the timed call, as a training loop must);
* compile time of the Flax forward cold (empty persistent cache) and warm (the persistent
  compilation cache of launch/compile_cache.py, after `jax.clear_caches()`);
* memory: Flax's compiled temporaries (`compiled.memory_analysis()`) on every backend, and on a
  GPU the peak allocations of both frameworks (jax `memory_stats`, torch `max_memory_allocated`).

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
               "vggish", "swin", "ast", "aves"], "Registered model names to benchmark.")
_BATCH = flags.DEFINE_integer("batch", 8, "Batch size.")
_FRAMES = flags.DEFINE_integer("frames", 300, "Time frames of the CNN mel input (100 per s).")
_PATCHES = flags.DEFINE_integer("patches", 3, "VGGish patches (0.96 s each) per example.")
_SECONDS = flags.DEFINE_float("seconds", 3.0, "Waveform seconds for AVES/HuBERT.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per variant (median).")
_FLAX_DTYPES = flags.DEFINE_list("flax_dtypes", ["float32", "bfloat16"], "Flax compute dtypes.")
_TORCH_VARIANTS = flags.DEFINE_list("torch_variants", ["eager", "amp", "compile"],
                                    "torch variants: eager (float32), amp (autocast bf16), "
                                    "compile (torch.compile of the eager model).")
_TRAIN = flags.DEFINE_bool("train", False, "Also time one train step (Flax f32 vs torch).")
_OVERRIDES = flags.DEFINE_string("overrides", "", "Model kwargs for every model, e.g. "
                                 "'width=16' or 'num_layers=2' (tiny sizes where full is too slow).")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")


def _seconds(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def _parse_overrides(text: str) -> dict[str, Any]:
  out = {}
  for item in filter(None, text.split(",")):
    key, value = item.split("=")
    out[key] = int(value) if value.lstrip("-").isdigit() else value
  return out


def _inputs(spec, batch: int, frames: int, patches: int, seconds: float, overrides):
  """(numpy input in the Flax layout, torch input maker, torch output -> embedding)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  if spec.recipe == "vggish_logmel":
    x = rng.standard_normal((batch, patches, 96, 64, 1)).astype(np.float32)
    to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(  # noqa: E731
        a.reshape(-1, 96, 64, 1).transpose(0, 3, 1, 2)))
    return x, to_torch, lambda out: out.reshape(batch, patches, -1).mean(1)
  if spec.recipe == "ast_fbank":
    shape = (batch, overrides.get("max_length", 1024), overrides.get("num_mel_bins", 128))
    x = rng.normal(-4, 3, shape).astype(np.float32)
    return x, torch.from_numpy, lambda out: out.pooler_output
  if spec.recipe == "clap_logmel":  # 10 s of CLAP's log-mel, [B, 1001, 64] (torch: [B, 1, ...])
    x = rng.normal(-30, 12, (batch, 1001, overrides.get("num_mel_bins", 64))).astype(np.float32)
    to_torch = lambda a: torch.from_numpy(a[:, None])  # noqa: E731
    return x, to_torch, lambda out: torch.nn.functional.normalize(out.audio_embeds, dim=-1)
  if spec.recipe == "birdset_mel":  # BirdSet's 1-channel dB mel, `frames` frames of 10 ms
    x = rng.normal(0, 1, (batch, 128, frames, 1)).astype(np.float32)
    to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
    # The classifier's logits (the pooled embedding is not in the output): no diff column.
    return x, to_torch, lambda out: out.logits
  if spec.recipe.startswith("waveform"):
    x = rng.normal(0, 0.3, (batch, int(seconds * 16000))).astype(np.float32)
    last = lambda out: getattr(out, "last_hidden_state", out)  # noqa: E731
    return x, torch.from_numpy, lambda out: last(out).mean(1)
  x = rng.random((batch, 128, frames, 3)).astype(np.float32)
  to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
  return x, to_torch, lambda out: out


def _median_alternating(calls: dict[str, Any], repeats: int) -> dict[str, float]:
  """Median seconds of each call; the calls take turns so all see the same load."""
  times = {k: [] for k in calls}
  for _ in range(repeats):
    for k, fn in calls.items():
      times[k].append(_seconds(fn))
  return {k: statistics.median(v) for k, v in times.items()}


def _torch_variants(torch_model, names, device):
  """{variant: callable(x) -> output}; one that fails does so at its first call (reported)."""
  import torch  # pylint: disable=g-import-not-at-top
  out = {}
  for name in names:
    if name == "eager":
      out[name] = torch_model
    elif name == "amp":
      def amp(x, m=torch_model):
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
          return m(x)
      out[name] = amp
    elif name == "compile":
      out[name] = torch.compile(torch_model)
    else:
      raise ValueError(f"unknown torch variant {name!r}; use eager, amp, compile")
  return out


def bench_one(name: str, batch: int, frames: int, patches: int, repeats: int,
              seconds: float = 3.0, flax_dtypes=("float32",), torch_variants=("eager",),
              train: bool = False, overrides=None) -> dict[str, Any]:
  """Ports `name` at full size (or `overrides`) and measures it; returns one table row."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import parity  # pylint: disable=g-import-not-at-top

  overrides = dict(overrides or {})
  spec = zoo.get_preset(name)
  torch.manual_seed(0)
  x, to_torch, torch_embedding = _inputs(spec, batch, frames, patches, seconds, overrides)
  image = x.ndim == 4 and x.shape[-1] == 3
  calib = (np.random.default_rng(1).random((2,) + x.shape[1:]).astype(np.float32)
           if image else None)
  torch_model, module, variables = parity.reference_and_port(spec, x, calibrate_on=calib,
                                                             **overrides)
  on_gpu = jax.default_backend() == "gpu"
  device = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
  torch_model = torch_model.to(device).eval()
  torch_x = to_torch(x).to(device)
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
  row: dict[str, Any] = {"model": name, "architecture": spec.architecture,
                         "input": "x".join(str(d) for d in x.shape), "overrides": overrides}

  # Flax forwards: compile cold, then warm from the persistent cache after clearing jax's own.
  variables = jax.device_put(variables)
  x_device = jax.device_put(x)
  forwards = {}
  for dtype in flax_dtypes:
    m = module.clone(dtype=jnp.dtype(dtype))
    fn = jax.jit(lambda v, x, m=m: m.apply(v, x)[1]["embedding"])
    row[f"flax_{dtype}_compile_cold_s"] = _seconds(  # trace + compile + one call
        lambda: jax.block_until_ready(fn(variables, x_device)))
    jax.clear_caches()
    fn = jax.jit(lambda v, x, m=m: m.apply(v, x)[1]["embedding"])
    row[f"flax_{dtype}_compile_warm_s"] = _seconds(  # trace + persistent-cache load + call
        lambda: jax.block_until_ready(fn(variables, x_device)))
    compiled = fn.lower(variables, x_device).compile()
    row[f"flax_{dtype}_temp_gib"] = compiled.memory_analysis().temp_size_in_bytes / 2**30
    forwards[f"flax {dtype}"] = lambda fn=fn: jax.block_until_ready(fn(variables, x_device))
  flax_out = np.asarray(jax.device_get(forwards[f"flax {flax_dtypes[0]}"]()), np.float32) \
      if flax_dtypes[0] == "float32" else None

  variants = _torch_variants(torch_model, torch_variants, device)
  torch_calls = {}
  with torch.no_grad():
    try:  # the parity reference; at b256 a transformer can run out of GPU memory in torch
      torch_out = torch_embedding(torch_model(torch_x)).float().cpu().numpy()
    except Exception as e:  # pylint: disable=broad-except  (reported in the table)
      torch_out = None
      row["torch_eager_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
      variants = {}
    for tname, call in variants.items():
      try:
        start = time.perf_counter()
        call(torch_x)  # warm-up (torch.compile compiles here)
        sync()
        row[f"torch_{tname}_first_s"] = time.perf_counter() - start
        torch_calls[f"torch {tname}"] = lambda c=call: (c(torch_x), sync())
      except Exception as e:  # pylint: disable=broad-except  (reported in the table)
        row[f"torch_{tname}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
    if device == "cuda" and torch_out is not None:
      torch.cuda.reset_peak_memory_stats()
      torch_model(torch_x)
      sync()
      row["torch_eager_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    load_before = os.getloadavg()[0]
    row["forward_s"] = _median_alternating({**forwards, **torch_calls}, repeats)
  if on_gpu:
    stats = jax.local_devices()[0].memory_stats() or {}
    row["flax_peak_gib"] = stats.get("peak_bytes_in_use", 0) / 2**30
  row["load_avg"] = (load_before + os.getloadavg()[0]) / 2
  row["params_flax"] = int(sum(np.size(p) for p in jax.tree.leaves(variables["params"])))
  row["params_torch"] = int(sum(p.numel() for p in torch_model.parameters()))
  if flax_out is not None and torch_out is not None and flax_out.shape == torch_out.shape:
    row["max_abs_diff"] = parity.max_abs_diff(flax_out, torch_out)
    row["max_abs_out"] = float(np.max(np.abs(torch_out)))
  if train:
    row["train_s"] = _train_steps(module, variables, x, torch_model, to_torch, torch_embedding,
                                  device, sync, repeats)
  return row


def _train_steps(module, variables, x, torch_model, to_torch, torch_embedding, device, sync,
                 repeats) -> dict[str, float]:
  """Median seconds of one Adam step on a fresh 10-way head, host batch in, both frameworks."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  labels = np.arange(x.shape[0], dtype=np.int32) % 10
  emb = jax.eval_shape(lambda v, x: module.apply(v, x)[1]["embedding"], variables, x)
  params = {"backbone": variables["params"],
            "head": jnp.zeros((emb.shape[-1], 10), jnp.float32)}
  rest = {k: v for k, v in variables.items() if k != "params"}
  opt = optax.adam(1e-4)
  state = (params, opt.init(params))

  def loss_fn(p, x, y):
    v = {"params": p["backbone"], **rest}
    if rest:  # BatchNorm in train mode: batch statistics (their update is not needed here)
      (_, inter), _ = module.apply(v, x, train=True, mutable=list(rest))
    else:
      _, inter = module.apply(v, x, train=True)
    return optax.softmax_cross_entropy_with_integer_labels(
        inter["embedding"] @ p["head"], y).mean()

  @jax.jit
  def step(state, x, y):
    p, s = state
    grads = jax.grad(loss_fn)(p, x, y)
    updates, s = opt.update(grads, s, p)
    return optax.apply_updates(p, updates), s

  jax.block_until_ready(step(state, x, labels))  # compile
  holder = [state]

  def flax_step():
    holder[0] = jax.block_until_ready(step(holder[0], x, labels))

  head = torch.nn.Linear(torch_embedding(torch_model(to_torch(x[:1]).to(device))).shape[-1],
                         10).to(device)
  net_params = list(torch_model.parameters()) + list(head.parameters())
  topt = torch.optim.Adam(net_params, lr=1e-4)
  y = torch.from_numpy(labels.astype(np.int64))

  def torch_step(amp: bool):
    torch_model.train()
    xb, yb = to_torch(x).to(device), y.to(device)
    topt.zero_grad()
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp):
      loss = torch.nn.functional.cross_entropy(head(torch_embedding(torch_model(xb))).float(), yb)
    loss.backward()
    topt.step()
    sync()

  torch_step(False)
  torch_step(True)
  return _median_alternating({"flax float32": flax_step, "torch eager": lambda: torch_step(False),
                              "torch amp": lambda: torch_step(True)}, repeats)


def _ratio(row, key, a, b) -> str:
  times = row.get(key, {})
  return f"{times[b] / times[a]:.2f}" if a in times and b in times else "-"


def to_markdown(rows: list[dict[str, Any]], header: str) -> str:
  lines = [header, "", "## Extraction (forward) ms, median; ratio = torch ms / Flax ms", "",
           "| model | input | params Flax / torch | max abs diff (max abs out) | Flax f32 ms | "
           "Flax bf16 ms | torch eager ms | torch AMP ms | torch.compile ms | eager/f32 | "
           "AMP/bf16 | compile/bf16 | compile/f32 | load avg |",
           "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  ms = lambda r, k: (f"{1e3 * r['forward_s'][k]:.0f}" if k in r["forward_s"]  # noqa: E731
                     else r.get(f"torch_{k.split()[-1]}_error", "-"))
  for r in rows:
    diff = (f"{r['max_abs_diff']:.1e} ({r['max_abs_out']:.3g})" if "max_abs_diff" in r else "-")
    lines.append(
        f"| {r['model']} | {r['input']} | {r['params_flax']:,} / {r['params_torch']:,}"
        f"{'' if r['params_flax'] == r['params_torch'] else ' (MISMATCH)'} | {diff} | "
        f"{ms(r, 'flax float32')} | {ms(r, 'flax bfloat16')} | {ms(r, 'torch eager')} | "
        f"{ms(r, 'torch amp')} | {ms(r, 'torch compile')} | "
        f"{_ratio(r, 'forward_s', 'flax float32', 'torch eager')} | "
        f"{_ratio(r, 'forward_s', 'flax bfloat16', 'torch amp')} | "
        f"{_ratio(r, 'forward_s', 'flax bfloat16', 'torch compile')} | "
        f"{_ratio(r, 'forward_s', 'flax float32', 'torch compile')} | {r['load_avg']:.1f} |")
  lines += ["", "## Compile and memory", "",
            "| model | Flax f32 compile cold s | warm s | Flax bf16 cold s | warm s | "
            "torch.compile first call s | Flax f32 temp GiB | Flax bf16 temp GiB | "
            "Flax peak GiB (GPU) | torch eager peak GiB (GPU) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  f = lambda r, k, fmt="{:.1f}": fmt.format(r[k]) if k in r else "-"  # noqa: E731
  for r in rows:
    lines.append(
        f"| {r['model']} | {f(r, 'flax_float32_compile_cold_s')} | "
        f"{f(r, 'flax_float32_compile_warm_s')} | {f(r, 'flax_bfloat16_compile_cold_s')} | "
        f"{f(r, 'flax_bfloat16_compile_warm_s')} | {f(r, 'torch_compile_first_s')} | "
        f"{f(r, 'flax_float32_temp_gib', '{:.4f}')} | {f(r, 'flax_bfloat16_temp_gib', '{:.4f}')} | "
        f"{f(r, 'flax_peak_gib', '{:.2f}')} | {f(r, 'torch_eager_peak_gib', '{:.2f}')} |")
  if any("train_s" in r for r in rows):
    lines += ["", "## Train step (host batch in, Adam, 10-way head) ms, median", "",
              "| model | Flax f32 ms | torch eager ms | torch AMP ms | eager/Flax | AMP/Flax |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
      t = r.get("train_s")
      if t:
        lines.append(f"| {r['model']} | {1e3 * t['flax float32']:.0f} | "
                     f"{1e3 * t['torch eager']:.0f} | {1e3 * t['torch amp']:.0f} | "
                     f"{_ratio(r, 'train_s', 'flax float32', 'torch eager')} | "
                     f"{_ratio(r, 'train_s', 'flax float32', 'torch amp')} |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  import sys  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from launch import compile_cache  # pylint: disable=g-import-not-at-top

  # A fresh persistent cache: the first compile of each model is cold, the next one warm.
  compile_cache.enable(tempfile.mkdtemp(prefix="bench_models_xla_"), min_compile_seconds=0)
  rows = []
  for name in _MODELS.value:
    row = bench_one(name, _BATCH.value, _FRAMES.value, _PATCHES.value, _REPEATS.value,
                    _SECONDS.value, tuple(_FLAX_DTYPES.value), tuple(_TORCH_VARIANTS.value),
                    _TRAIN.value, _parse_overrides(_OVERRIDES.value))
    print(row, flush=True)
    rows.append(row)
  header = (
      f"# Backbones: Flax (jit) vs PyTorch, batch {_BATCH.value}\n\n"
      f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
      f"(shared with other jobs while measured), JAX {jax.__version__} on "
      f"{jax.devices()[0].platform} ({jax.device_count()} devices), torch {torch.__version__} "
      f"with {torch.get_num_threads()} threads, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, "
      f"model overrides {_OVERRIDES.value or 'none (full size)'}. "
      f"Median of {_REPEATS.value} runs after compilation / warm-up, all variants "
      "alternating; 'load avg' is the machine's 1-min load average during the runs. Random "
      "weights with randomised biases and calibrated BatchNorm statistics; max abs diff is on "
      "the embedding (float32 Flax vs torch eager).\n"
      f"Command: `nice python -m experiments.perf.bench_models {' '.join(sys.argv[1:])}`")
  table = to_markdown(rows, header)
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
      f.write(table)
  print(table)


if __name__ == "__main__":
  app.run(main)
