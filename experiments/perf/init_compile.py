r"""Compile time of a model's init on this backend: the default XLA options vs models/initialize.py.

    nice python -m experiments.perf.init_compile --models=rn18 --width=4 --repeats=3 \
        --out=experiments/perf/results/init_compile_cpu.md

Each repeat, in one process, compiles `module.init` three ways (fresh `jax.jit` objects, the
persistent compilation cache off): with the backend's default options, with
`models/initialize.compiler_options()`, and the forward pass alone (`module.apply`, for scale),
and checks that both inits give the same variables to float rounding. Medians of the repeats.
"""

from __future__ import annotations

import os
import statistics
import time

from absl import app
from absl import flags
import jax
import numpy as np

from bioacoustics_jax import zoo
from bioacoustics_jax.models import initialize

_MODELS = flags.DEFINE_list("models", ["rn18"], "Model ids.")
_WIDTH = flags.DEFINE_integer("width", 4, "ResNet width override (0: the preset's own size).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Repeats (medians reported).")
_OUT = flags.DEFINE_string("out", None, "Markdown file to write the table to.")


def _seconds(fn) -> tuple[float, object]:
  start = time.perf_counter()
  out = jax.block_until_ready(fn())
  return time.perf_counter() - start, out


def measure(name: str, overrides: dict, repeats: int) -> dict:
  backbone = zoo.resolve(name, overrides)
  module, x = backbone.module, backbone.sample_input()
  rows = {"default": [], "initialize": [], "forward": []}
  diff = 0.0
  for i in range(repeats):
    key = jax.random.key(i)
    t_default, ref = _seconds(lambda: jax.jit(module.init).lower(key, x).compile()(key, x))
    t_cheap, got = _seconds(lambda: initialize.init(module, key, x))
    t_forward, _ = _seconds(lambda: jax.jit(module.apply).lower(ref, x).compile()(ref, x))
    rows["default"].append(t_default)
    rows["initialize"].append(t_cheap)
    rows["forward"].append(t_forward)
    diff = max([diff] + [float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                         for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(got))])
  medians = {k: statistics.median(v) for k, v in rows.items()}
  return {"model": name, **medians, "ratio": medians["default"] / medians["initialize"],
          "max_abs_diff": diff}


def main(argv):
  del argv
  jax.config.update("jax_enable_compilation_cache", False)
  overrides = {"width": _WIDTH.value} if _WIDTH.value else {}
  lines = [f"Backend {jax.default_backend()}, options {initialize.compiler_options()}, "
           f"overrides {overrides}, medians of {_REPEATS.value}, load average "
           f"{os.getloadavg()[0]:.1f} at start.", "",
           "| model | init, default options (s) | init, initialize.py (s) | default / cheap | "
           "forward compile (s) | max abs diff |", "|---|---|---|---|---|---|"]
  for name in _MODELS.value:
    r = measure(name, overrides, _REPEATS.value)
    lines.append(f"| {r['model']} | {r['default']:.2f} | {r['initialize']:.2f} | "
                 f"{r['ratio']:.1f}x | {r['forward']:.2f} | {r['max_abs_diff']:.2g} |")
  lines.append(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}.")
  text = "\n".join(lines)
  print(text)
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      f.write(f"`python -m experiments.perf.init_compile --models={','.join(_MODELS.value)} "
              f"--width={_WIDTH.value} --repeats={_REPEATS.value}`\n\n{text}\n")


if __name__ == "__main__":
  app.run(main)
