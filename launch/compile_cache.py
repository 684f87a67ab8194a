"""The persistent XLA compilation cache, on for every launched run.

Each (model, shape, dtype) compiles in 5-40 s (issue measurements on a GPU: efficientnet
17-22 s, swin 26 s, a ResNet-50 train step 31-36 s); with the cache a warm re-run, resumed run
or sweep trial loads the executable instead. The cache lives in
`$BIOACOUSTICS_JAX_COMPILE_CACHE`, default `~/.cache/bioacoustics_jax/xla`; set it to `off` to
disable. Entries are keyed by JAX on the computation, the compile options and the jax/jaxlib
version and backend, so a cache shared by several machines or versions never serves a wrong
executable.
"""

from __future__ import annotations

import os

ENV = "BIOACOUSTICS_JAX_COMPILE_CACHE"
DEFAULT = os.path.join("~", ".cache", "bioacoustics_jax", "xla")
# Compiles faster than this are not worth a disk round trip (JAX's own default is 1 s).
MIN_COMPILE_SECONDS = 0.5


def enable(cache_dir: str | None = None,
           min_compile_seconds: float = MIN_COMPILE_SECONDS) -> str | None:
  """Turns the cache on (call before the first compilation); returns its folder, or None when
  disabled with `off`."""
  path = cache_dir if cache_dir is not None else os.environ.get(ENV, DEFAULT)
  if path.strip().lower() in ("", "off", "0", "none"):
    return None
  path = os.path.expanduser(path)
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return path
