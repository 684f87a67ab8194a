"""pmap, jit+shard_map and a single device give the same step on the same global batch."""

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest

from bioacoustics_jax.models.classifier import Classifier
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train.state import TrainState
from tests.train import tiny

# float32 reductions are split differently over 1 vs 8 devices; |a-b| <= 1e-5 + 1e-5*|b|
# leaves room for that (observed differences are ~1e-6 relative).
ATOL = 1e-5
RTOL = 1e-5


def _run(mode, batch, devices, task="classification", steps=2, frontend_on_global_batch=True):
  module = tiny.classifier(num_classes=3)
  variables = tiny.init_variables(module)
  # SGD, not Adam: Adam's first update is ~lr*sign(g), which turns float32 rounding noise in
  # near-zero gradients into lr-sized differences and would hide real disagreements.
  state = TrainState.create(variables, optax.sgd(0.1, momentum=0.9))
  step = step_lib.make_train_step(module, tiny.prepare, 0, task=task, num_classes=3,
                                  frontend_on_global_batch=frontend_on_global_batch)
  if devices == 1:
    # One device: the same per-device step, run by shard_map over a 1-device mesh.
    mesh = jax.make_mesh((1,), ("data",), axis_types=(jax.sharding.AxisType.Auto,),
                         devices=jax.devices()[:1])
    P = jax.sharding.PartitionSpec
    fn = jax.jit(jax.shard_map(step, mesh=mesh, in_specs=(P(), P("data"), P()),
                               out_specs=(P(), P())))
    losses = []
    for _ in range(steps):
      state, metrics = fn(state, {k: v for k, v in batch.items()}, jax.random.key(1))
      losses.append(float(metrics["loss"]))
    return jax.tree.map(np.asarray, state.to_checkpoint()), losses
  runner = data_parallel.DataParallel(step, mode)
  state = runner.put_state(state)
  losses = []
  for _ in range(steps):
    state, metrics = runner.step(state, runner.put_batch(batch), jax.random.key(1))
    losses.append(float(metrics["loss"]))
  return runner.host_state(state).to_checkpoint(), losses


@pytest.mark.parametrize("task", ["classification", "detection"])
def test_pmap_shard_map_single_device_agree(task):
  # Every device the process has (8 fake CPU devices here, see tests/conftest.py; 1 on a
  # one-GPU machine, where the comparison is still pmap vs shard_map vs the plain step).
  devices = jax.device_count()
  batch = tiny.random_batch(2 * devices, padded=min(3, devices), task=task)  # padding weighs 0
  single, single_loss = _run("single", batch, 1, task)
  for mode in ("pmap", "shard_map"):
    multi, multi_loss = _run(mode, batch, devices, task)
    np.testing.assert_allclose(multi_loss, single_loss, atol=ATOL, rtol=RTOL, err_msg=mode)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(single),
                            jax.tree.leaves(multi)):
      np.testing.assert_allclose(b, a, atol=ATOL, rtol=RTOL,
                                 err_msg=f"{mode} {jax.tree_util.keystr(path)}")
  # Without the global-batch frontend the batch-max recipe differs per device: not equal.
  local, _ = _run("shard_map", batch, 8, task, frontend_on_global_batch=False)
  assert not np.allclose(jax.tree.leaves(local["params"])[0], jax.tree.leaves(single["params"])[0],
                         atol=1e-4)
  # The step did something (not a no-op that trivially agrees).
  init = jax.tree.leaves(tiny.init_variables(tiny.classifier())["batch_stats"])
  assert not np.allclose(jax.tree.leaves(single["batch_stats"])[0], init[0])


class _NoBN(nn.Module):
  """Per-example model (no BatchNorm), so padded rows can only leak in through the loss."""

  @nn.compact
  def __call__(self, x, train=False):
    e = nn.Dense(4)(x.reshape(x.shape[0], -1))
    return e, {"embedding": e}


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_padding_rows_weigh_zero(mode):
  batch = tiny.random_batch(16, padded=5)
  garbage = dict(batch, audio=batch["audio"].copy(), label=batch["label"].copy())
  garbage["audio"][-5:] = 100.0
  garbage["label"][-5:] = 2
  unpadded = {k: v[:11] for k, v in batch.items()}
  module = Classifier(_NoBN(), 3)
  variables = tiny.init_variables(module)
  # A per-example frontend: a batch-max recipe would (rightly) see the padded rows.
  prepare = lambda audio, rate: audio.reshape(audio.shape[0], 8, -1, 1)  # noqa: E731
  step = step_lib.make_train_step(module, prepare, 0, task="classification", num_classes=3)
  runner = data_parallel.DataParallel(step, mode)
  results = []
  for b in (batch, garbage):
    state = runner.put_state(TrainState.create(variables, optax.sgd(0.1)))
    state, metrics = runner.step(state, runner.put_batch(b), jax.random.key(0))
    results.append((float(metrics["loss"]), float(metrics["count"]), runner.host_state(state)))
  # Reference: the 11 real rows alone, by a plain (non-parallel) loss and gradient.
  def loss_fn(params):
    logits, _ = module.apply({"params": params}, prepare(unpadded["audio"], 0))
    return optax.softmax_cross_entropy_with_integer_labels(logits, unpadded["label"]).mean()
  ref_loss, grads = jax.value_and_grad(loss_fn)(variables["params"])
  ref_params = jax.tree.map(lambda p, g: p - 0.1 * g, variables["params"], grads)
  for loss, count, state in results:
    assert count == 11
    np.testing.assert_allclose(loss, ref_loss, atol=ATOL, rtol=RTOL)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(ref_params)):
      np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
