"""The persistent compilation cache: a second process loads what the first compiled (counted
through JAX's own monitoring events, not timed), and `off` disables it."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

_CHILD = textwrap.dedent("""
    import sys
    import jax
    import jax.numpy as jnp
    from launch import compile_cache
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
    print("dir", compile_cache.enable(sys.argv[1], min_compile_seconds=0))
    f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum() * 3.0)
    f(jnp.ones((64, 64))).block_until_ready()
    print("hits", len(hits))
""")


def _child(cache_dir):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)
  out = subprocess.run([sys.executable, "-c", _CHILD, cache_dir], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300, check=True).stdout
  return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_a_warm_process_hits_the_cache(tmp_path):
  cache = str(tmp_path / "xla")
  cold = _child(cache)
  assert cold["dir"] == cache and cold["hits"] == "0" and os.listdir(cache)
  warm = _child(cache)
  assert int(warm["hits"]) >= 1


def test_off_disables_it(tmp_path):
  assert _child("off") == {"dir": "None", "hits": "0"}
