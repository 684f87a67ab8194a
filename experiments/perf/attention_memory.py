"""Temporaries XLA allocates for one AST forward, from the compiled program's memory analysis.

    python -m experiments.perf.attention_memory --batch=256 --dtype=float32

Compiles (never runs) the full-size AST (1214 tokens, 12 heads) for this machine's backend and
prints jax's `compiled.memory_analysis()`: `temp_size_in_bytes` is the scratch the program needs
beside its arguments and outputs, where the [B, heads, tokens, tokens] attention scores live.
The issue measured 36 GiB of temporaries at float32 b256 on an H100, which did not fit.
"""

from __future__ import annotations

import json
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from bioacoustics_jax import zoo

_BATCH = flags.DEFINE_integer("batch", 256, "batch size")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "compute dtype")
_MODEL = flags.DEFINE_string("model", "ast", "preset name (a transformer: ast, aves, swin)")


def analyse(model: str, batch: int, dtype: str) -> dict:
  backbone = zoo.resolve(model)
  module = backbone.module.clone(dtype=jnp.dtype(dtype))
  one = backbone.sample_input(16000)
  x = jax.ShapeDtypeStruct((batch,) + one.shape[1:], jnp.float32)
  variables = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), jnp.zeros(one.shape)))
  start = time.perf_counter()
  compiled = jax.jit(lambda v, x: module.apply(v, x)[0]).lower(variables, x).compile()
  seconds = time.perf_counter() - start
  mem = compiled.memory_analysis()
  gib = lambda n: round(n / 2**30, 3)  # noqa: E731
  return dict(model=model, batch=batch, dtype=dtype, backend=jax.default_backend(),
              compile_s=round(seconds, 1), temp_gib=gib(mem.temp_size_in_bytes),
              argument_gib=gib(mem.argument_size_in_bytes),
              output_gib=gib(mem.output_size_in_bytes))


def main(argv):
  del argv
  print(json.dumps(analyse(_MODEL.value, _BATCH.value, _DTYPE.value)))


if __name__ == "__main__":
  app.run(main)
