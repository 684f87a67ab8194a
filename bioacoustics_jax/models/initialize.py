"""A Flax module's starting variables, compiled cheaply: `init(module, rng, *inputs)`.

`module.init` traces the whole forward pass and draws every parameter with threefry. XLA's CPU
backend spends most of a small run's compile time on that one program at its default
optimisation level: a width-4 ResNet-18's init compiled in 95-101 s on this 2-core machine under
load (average 11), against 10.6-11.5 s at optimisation level 0 and 2.7 s for its forward pass
alone (the measurement is `experiments/perf/init_compile.py`). An init runs once, so how fast its
code runs does not matter: on CPU it is compiled at level 0. The values equal the default
compile's to float rounding (max abs difference 1.2e-7 on that ResNet-18: the float steps after
the random bits are not bit-identical across optimisation levels). Other backends compile it as
usual.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

# The XLA option (DebugOptions.xla_backend_optimization_level) and its value for inits on CPU.
CPU_INIT_OPTIONS = {"xla_backend_optimization_level": 0}


def compiler_options() -> dict[str, Any] | None:
  """The compile options for an init on the default backend (None: the backend's defaults)."""
  return dict(CPU_INIT_OPTIONS) if jax.default_backend() == "cpu" else None


def init(module, rng: jax.Array, *inputs: Any, **kwargs: Any) -> Any:
  """`module.init(rng, *inputs, **kwargs)` under jit, compiled with `compiler_options()`."""
  fn = jax.jit(functools.partial(module.init, **kwargs))
  return fn.lower(rng, *inputs).compile(compiler_options=compiler_options())(rng, *inputs)
