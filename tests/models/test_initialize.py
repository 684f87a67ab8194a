"""models/initialize.py: a compiled init at CPU optimisation level 0 gives the usual variables."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.models import initialize


class _Tiny(nn.Module):

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(4, (3, 3))(x)
    x = nn.BatchNorm(use_running_average=not train)(x)
    return nn.Dense(3)(x.mean(axis=(1, 2)))


def test_init_equals_the_default_compile_and_uses_level_0_on_cpu():
  module, x = _Tiny(), jnp.ones((1, 8, 8, 2))
  got = initialize.init(module, jax.random.key(3), x, train=False)
  want = jax.jit(lambda k, v: module.init(k, v, train=False))(jax.random.key(3), x)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
  cpu = jax.default_backend() == "cpu"
  assert initialize.compiler_options() == ({"xla_backend_optimization_level": 0} if cpu else None)
  # A different key draws different parameters (the key is an argument, not baked in).
  other = initialize.init(module, jax.random.key(4), x, train=False)
  assert not np.allclose(other["params"]["Dense_0"]["kernel"], got["params"]["Dense_0"]["kernel"])
