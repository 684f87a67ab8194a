"""The train step's input path makes no implicit host<->device copy: both runners (pmap and
jit + shard_map) step under jax.transfer_guard("disallow"), which refuses any copy not made on
purpose, and so does every step of the fit() loop."""

import jax
import numpy as np
import optax
import pytest

from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import loop
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train.state import TrainState
from tests.train import tiny


@pytest.mark.parametrize("mode", ["shard_map", "pmap"])
def test_steps_under_the_guard(mode):
  step = step_lib.make_train_step(tiny.classifier(num_classes=3), tiny.prepare, 0,
                                  task="classification", num_classes=3)
  runner = data_parallel.DataParallel(step, mode)
  state = runner.put_state(TrainState.create(tiny.init_variables(tiny.classifier(3)),
                                             optax.sgd(0.1)))
  rng = runner.put_rng(jax.random.key(1))
  batch = tiny.random_batch(16, padded=3)
  with jax.transfer_guard("disallow"):
    losses = []
    for _ in range(3):
      state, metrics = runner.step(state, runner.put_batch(batch), rng)
      losses.append(float(jax.device_get(metrics["loss"]).mean()))
    host = jax.device_get(runner.put_batch(batch))  # the step's layout, but numpy
    with pytest.raises(Exception, match="host-to-device"):
      runner.step(state, host, rng)  # the guard is live on this path
  assert np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("parallel", ["pmap", pytest.param("shard_map", marks=pytest.mark.slow)])
def test_fit_feeds_every_step_device_resident_inputs(tmp_path, parallel, monkeypatch):
  """fit() as it runs (prefetched batches, the placed key, the donated state): each of its
  steps runs under the guard (the real step, entered through a guard; setup stays unguarded:
  jax.random.key(seed) alone is an implicit copy)."""
  real_step, guarded = data_parallel.DataParallel.step, []

  def step_under_guard(self, state, batch, rng):
    guarded.append(self.mode)
    with jax.transfer_guard("disallow"):
      return real_step(self, state, batch, rng)

  monkeypatch.setattr(data_parallel.DataParallel, "step", step_under_guard)
  _, result = loop.fit(tiny.make_task(), tiny.small_config(parallel=parallel, num_epochs=2),
                       str(tmp_path), learning_rate=3e-2)
  assert result.final_step == 8 and guarded.count(parallel) >= 8
