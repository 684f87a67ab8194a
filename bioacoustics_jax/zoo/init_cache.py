"""Random-init variables kept on disk, so a warm run does not trace, lower and run `jit(init)`.

A random-init backbone's starting variables are a pure function of the module (preset, kwargs,
overrides, the code that builds it), the PRNG key, the sample's shape and the JAX/Flax
versions. Tracing and lowering ResNet-18's init took 4.6 s of a 175 s warm end-to-end run at
1,000 clips and most of a 12 s one at 96 clips (experiments/perf/results/e2e_cpu_profile.md);
the persistent XLA cache saves only the compile. Here the variables themselves are stored
under a content hash of all those inputs (`<cache>/<hash>.msgpack`, written atomically): a
changed input never loads an old file, an unchanged one always does.

The folder is `$BIOACOUSTICS_JAX_INIT_CACHE`, default `~/.cache/bioacoustics_jax/init`; `off`
disables it. Models with weights are not cached here (their ported directory is the cache).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from bioacoustics_jax.source_code import source_hash

ENV = "BIOACOUSTICS_JAX_INIT_CACHE"
DEFAULT = os.path.join("~", ".cache", "bioacoustics_jax", "init")
# The code a cached init depends on beside the backbone's own (Backbone.identity's code hash).
_CODE = ("bioacoustics_jax.zoo.backbone", "bioacoustics_jax.zoo.init_cache")


def cache_dir() -> str | None:
  """The cache folder, or None when `$BIOACOUSTICS_JAX_INIT_CACHE` is off."""
  path = os.environ.get(ENV, DEFAULT)
  if path.strip().lower() in ("", "off", "0", "none"):
    return None
  return os.path.expanduser(path)


def key_of(backbone, rng: jax.Array, sample: Any) -> str:
  """sha256 (24 hex) of everything the random init depends on."""
  sample = jnp.asarray(sample) if not hasattr(sample, "dtype") else sample
  inputs = {
      "backbone": backbone.identity(),
      "rng": {"impl": str(jax.random.key_impl(rng)),
              "data": np.asarray(jax.random.key_data(rng)).tolist()},
      "sample": {"shape": list(sample.shape), "dtype": str(sample.dtype)},
      "versions": {"jax": jax.__version__, "jaxlib": jax.lib.__version__,
                   "flax": flax.__version__, "backend": jax.default_backend()},
      "code": source_hash(_CODE),
  }
  text = json.dumps(inputs, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:24]


def init_variables(backbone, rng: jax.Array, sample: Any | None = None) -> Any:
  """`backbone.init_variables(rng, sample)`, loaded from the cache for a random-init model
  when the same inputs were initialised before (else computed and stored). Returns numpy
  leaves when loaded, the fresh arrays otherwise (same values either way)."""
  folder = cache_dir()
  if backbone.preset.weights is not None or folder is None:
    return backbone.init_variables(rng, sample)
  sample = backbone.sample_input() if sample is None else sample
  path = os.path.join(folder, f"{backbone.name}-{key_of(backbone, rng, sample)}.msgpack")
  if os.path.isfile(path):
    with open(path, "rb") as f:
      return serialization.msgpack_restore(f.read())
  variables = backbone.init_variables(rng, sample)
  os.makedirs(folder, exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(serialization.msgpack_serialize(jax.device_get(variables)))
  os.replace(tmp, path)
  return variables
