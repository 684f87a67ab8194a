"""BatchNorm in fine-tuning: padded rows stay out of the statistics (pmap and shard_map agree
with the real rows alone), and recalibration gives the pooled statistics of the split."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import recalibration
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train.state import TrainState
from tests.train import tiny

ATOL = RTOL = 1e-5


def _per_example(audio, rate):
  # Per-example frontend: tiny.prepare's batch max would (rightly) see garbage padding rows.
  del rate
  return jnp.log1p(jnp.abs(audio.reshape(audio.shape[0], 8, -1)))[..., None]


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_padded_rows_do_not_enter_batch_norm(mode):
  batch = tiny.random_batch(16, padded=5)
  batch["audio"][-5:] = 50.0  # garbage in the padding: must change nothing
  batch["label"][-5:] = 2
  real = {k: v[:11] for k, v in batch.items()}
  module = tiny.classifier(bn_axis_name="data")
  variables = tiny.init_variables(module)
  step = step_lib.make_train_step(module, _per_example, 0, task="classification", num_classes=3)
  runner = data_parallel.DataParallel(step, mode)
  state = runner.put_state(TrainState.create(variables, optax.sgd(0.1)))
  state, metrics = runner.step(state, runner.put_batch(batch), jax.random.key(0))
  got = runner.host_state(state)

  # Reference: the 11 real rows alone, one device, no mask, no collectives.
  ref_module = tiny.classifier(bn_axis_name=None)

  def loss_fn(params):
    (logits, _), upd = ref_module.apply(
        {"params": params, "batch_stats": variables["batch_stats"]},
        _per_example(jnp.asarray(real["audio"]), 0), train=True, mutable=["batch_stats"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, real["label"]).mean()
    return loss, upd["batch_stats"]

  (loss, ref_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
  ref_params = jax.tree.map(lambda p, g: p - 0.1 * g, variables["params"], grads)
  np.testing.assert_allclose(float(metrics["loss"]), float(loss), atol=ATOL, rtol=RTOL)
  for a, b in zip(jax.tree.leaves(got.batch_stats), jax.tree.leaves(ref_stats)):
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
  for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(ref_params)):
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
  # Not trivially equal: the init statistics did move.
  assert not np.allclose(got.batch_stats["backbone"]["bn"]["mean"],
                         variables["batch_stats"]["backbone"]["bn"]["mean"])


def _conv_output(module, variables, audio):
  _, inter = module.apply(variables, _per_example(jnp.asarray(audio), 0), train=False,
                          capture_intermediates=lambda m, name: m.name == "conv")
  return np.asarray(inter["intermediates"]["backbone"]["conv"]["__call__"][0])


@pytest.mark.parametrize("mode", ["shard_map", "pmap"])
def test_recalibration_gives_pooled_split_statistics(mode):
  module = tiny.classifier(bn_axis_name="data")
  variables = tiny.init_variables(module)
  data = tiny.dataset(40)
  # Three batches of 16, the last with 8 padded (garbage) rows: 40 real rows in all.
  batches = []
  for i in range(3):
    b = {k: np.zeros((16,) + v.shape[1:], v.dtype) for k, v in data.items()}
    rows = data["audio"][16 * i:16 * (i + 1)]
    b["audio"][:len(rows)] = rows
    b["audio"][len(rows):] = 50.0
    b["mask"][:len(rows)] = True
    batches.append(b)
  runner = data_parallel.DataParallel(lambda s, b, r: (s, {}), mode)
  task = tiny.make_task(module=module)
  task.prepare = _per_example
  recal = recalibration.Recalibrator(task, runner, compute_dtype=None,
                                     frontend_on_global_batch=False, max_batches=0, seed=0)
  placed = runner.put_state({"params": variables["params"],
                             "batch_stats": variables["batch_stats"]})
  stats = recal(placed["params"], placed["batch_stats"], iter(batches))
  # The tiny model's only BN sits right after the first conv, so its input is known exactly.
  x = _conv_output(module, variables, data["audio"]).reshape(-1, 4)
  bn = stats["backbone"]["bn"]
  np.testing.assert_allclose(bn["mean"], x.mean(0), rtol=1e-4, atol=1e-6)
  # Per-batch unbiased variances pooled: within n/(n-1) (n = 16 * 8 * 8) of the split's own.
  np.testing.assert_allclose(bn["var"], x.var(0), rtol=3e-3)


def test_recalibration_switch():
  config = tiny.small_config()
  with_bn = tiny.init_variables(tiny.classifier())
  assert recalibration.enabled(config, with_bn)
  config.bn_recalibration = "off"
  assert not recalibration.enabled(config, with_bn)
  config.bn_recalibration = "sometimes"
  with pytest.raises(ValueError, match="bn_recalibration"):
    recalibration.enabled(config, with_bn)
