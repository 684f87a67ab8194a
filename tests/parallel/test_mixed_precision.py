"""bf16 compute keeps float32 master params/optimizer state and tracks the float32 step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bioacoustics_jax.models.classifier import Classifier
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train.state import TrainState
from tests.train import tiny


def _one_step(compute_dtype, module):
  variables = tiny.init_variables(module)
  step = step_lib.make_train_step(module, tiny.prepare, 0, task="classification", num_classes=3,
                                  compute_dtype=compute_dtype)
  runner = data_parallel.DataParallel(step, "shard_map")
  state = runner.put_state(TrainState.create(variables, optax.sgd(0.1)))
  state, metrics = runner.step(state, runner.put_batch(tiny.random_batch(16)), jax.random.key(0))
  return runner.host_state(state), float(metrics["loss"])


def test_bf16_compute_float32_masters():
  f32_state, f32_loss = _one_step(None, tiny.classifier())
  bf16_module = Classifier(tiny.TinyCNN(bn_axis_name="data", dtype=jnp.bfloat16), 3)
  bf16_state, bf16_loss = _one_step(jnp.bfloat16, bf16_module)
  assert all(x.dtype == np.float32 for x in jax.tree.leaves(bf16_state.params))
  assert all(x.dtype == np.float32 for x in jax.tree.leaves(bf16_state.opt_state)
             if hasattr(x, "dtype") and x.dtype.kind == "f")
  assert np.isfinite(bf16_loss) and abs(bf16_loss - f32_loss) < 0.05 * abs(f32_loss)
  for a, b in zip(jax.tree.leaves(bf16_state.params), jax.tree.leaves(f32_state.params)):
    np.testing.assert_allclose(a, b, atol=2e-2)
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(bf16_state.params), jax.tree.leaves(f32_state.params)))
