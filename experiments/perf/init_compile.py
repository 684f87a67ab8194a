"""What a random init costs to compile on CPU, per XLA backend optimisation setting.

    JAX_PLATFORMS=cpu python -m experiments.perf.init_compile

Lowers ResNet-18's `jit(module.init)` once and compiles it with each compiler option set, then
runs it once and compares the variables bitwise with the first setting's.
"""

import os
import time

from launch import cpu_defaults

cpu_defaults.apply()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from bioacoustics_jax import zoo  # noqa: E402


def main():
  backbone = zoo.resolve("rn18")
  sample = backbone.sample_input(22050, 2048)
  ref = None
  for opts in [dict(xla_backend_optimization_level=0),
               dict(xla_llvm_disable_expensive_passes=True),
               dict(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True),
               {}]:
    lowered = jax.jit(backbone.module.init).trace(jax.random.key(0), sample).lower()
    t0 = time.perf_counter()
    compiled = lowered.compile(compiler_options=opts)
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(jax.random.key(0), sample))
    t2 = time.perf_counter()
    ref = out if ref is None else ref
    diff = max(jax.tree.leaves(jax.tree.map(
        lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))), ref, out)))
    print(opts or "default", f"compile {t1 - t0:.2f} s, run {t2 - t1:.2f} s, max |diff| vs "
          f"first {diff:.2e}, load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
  main()
