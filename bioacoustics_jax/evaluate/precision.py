"""The matmul precision of the evaluator's JAX maths (PCA, k-means, kNN, silhouette, probe).

On GPU and TPU a float32 matmul defaults to reduced-precision passes (TF32 / bf16), which moves
distances by ~1e-3 and would break "equal to sklearn"; HIGHEST keeps them float32. On the CPU
float32 is already exact by default, and asking for HIGHEST there took a slower path (0.31 vs
0.16 s for a [20, 100k] x [100k, 1024] product on this machine), so the default is kept.
Evaluated at trace time, inside the jitted functions.
"""

from __future__ import annotations

import jax


def matmul_precision() -> jax.lax.Precision | None:
  return None if jax.default_backend() == "cpu" else jax.lax.Precision.HIGHEST
