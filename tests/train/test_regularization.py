"""Train-mode regularisation as the originals: Swin-S stochastic depth, HuBERT/AVES dropout,
attention dropout and LayerDrop. Present in train mode, a function of the rng only (so a resumed
run draws the same masks), and absent in eval mode (the ported graph is untouched)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.models import initialize

SWIN_TINY = dict(embed_dim=8, depths=(2, 2), num_heads=(1, 2), num_classes=10)
HUBERT_TINY = dict(conv_layers=((16, 10, 5), (16, 3, 2)), embed_dim=16, num_layers=4,
                   num_heads=2, ff_dim=32, pos_conv_kernel=8, pos_conv_groups=2)


@pytest.mark.parametrize("name,overrides,shape,want", [
    ("swin_s", SWIN_TINY, (2, 32, 32, 3), {"stochastic_depth_prob": 0.3}),
    ("aves", HUBERT_TINY, (2, 1600), {"dropout": 0.1, "attention_dropout": 0.1,
                                      "projection_dropout": 0.1, "layer_drop": 0.05}),
])
def test_train_mode_regularisation(name, overrides, shape, want):
  backbone = zoo.resolve(name, overrides)
  module = backbone.training_module(cross_replica_bn=True)
  for key, value in want.items():
    assert getattr(module, key) == value, key
  plain = backbone.training_module(cross_replica_bn=True, regularization=False)
  assert all(getattr(plain, key) == 0.0 for key in want)
  x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
  variables = initialize.init(module, jax.random.key(0), x)

  def out(m, train, seed=0):
    return np.asarray(m.apply(variables, x, train=train, rngs={"dropout": jax.random.key(seed)})[0])

  # Deterministic for a fixed rng, stochastic across rngs, absent without it.
  np.testing.assert_array_equal(out(module, True, 1), out(module, True, 1))
  draws = [out(module, True, s) for s in range(4)]
  assert any(not np.allclose(draws[0], d) for d in draws[1:])
  assert not np.allclose(out(module, True, 1), out(plain, True, 1), atol=1e-6)
  # Eval mode: identical to the module without regularisation (parity tests cover that one).
  np.testing.assert_array_equal(out(module, False), out(plain, False))
  np.testing.assert_array_equal(out(module, False), np.asarray(
      backbone.module.apply(variables, x)[0]))


def test_user_override_wins():
  backbone = zoo.resolve("swin_s", dict(SWIN_TINY, stochastic_depth_prob=0.1))
  assert backbone.training_module(cross_replica_bn=True).stochastic_depth_prob == 0.1
