"""The learning-rate grid in one compiled program equals the runs one at a time, and resumes."""

import os
import signal

import jax
import numpy as np
import pytest

from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import checkpointing
from bioacoustics_jax.train import grid_fit
from bioacoustics_jax.train import grid_step
from bioacoustics_jax.train import loop
from bioacoustics_jax.train import optimizer as optimizer_lib
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train.state import TrainState
from tests.train import tiny

LRS = (1e-3, 3e-2)


def _config(**overrides):
  # The tiny CNN's conv bias sits before a BatchNorm, so its gradient is zero up to rounding
  # and Adam turns that rounding into +-lr steps: frozen, every parameter has a real gradient.
  return tiny.small_config(num_epochs=2, freeze_prefixes=("backbone/conv/bias",), **overrides)


def _close(want, got):
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(want), jax.tree.leaves(got)):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path))


def test_one_vmapped_step_equals_a_step_per_learning_rate():
  task = tiny.make_task(n_train=16)
  config = _config()
  make_tx = lambda lr: optimizer_lib.make_optimizer(  # noqa: E731
      config, task.variables["params"], 10, lr, config.freeze_prefixes)
  per_device = step_lib.make_train_step(task.module, task.prepare, 0, task="classification",
                                        num_classes=3)
  single = data_parallel.DataParallel(per_device)
  grid = data_parallel.DataParallel(grid_step.make_grid_step(per_device, make_tx))
  batch = next(iter(task.train_batches(0)))
  rng = jax.random.key(0)
  states = [TrainState.create(task.variables, make_tx(lr)) for lr in LRS]
  stacked = jax.tree.map(lambda *xs: np.stack(xs), *[s.replace(tx=states[0].tx) for s in states])
  (got, lrs), out = grid.step(grid.put_state((stacked, np.asarray(LRS, np.float32))),
                              grid.put_batch(batch), rng)
  np.testing.assert_allclose(grid.host_state(lrs), LRS)
  host = grid.host_state(got)
  for g, state in enumerate(states):
    want, want_out = single.step(single.put_state(state), single.put_batch(batch), rng)
    _close(single.host_state(want).to_checkpoint(),
           jax.tree.map(lambda x: x[g], host.to_checkpoint()))  # noqa: B023
    np.testing.assert_allclose(np.asarray(out["loss"])[g], float(want_out["loss"]), rtol=1e-6)


# ~25 s of CPU (three runs' compiles and checkpoints; minutes of wall on a loaded machine).
@pytest.mark.slow
def test_grid_equals_one_at_a_time(tmp_path):
  task = tiny.make_task(n_train=32)
  config = _config()
  dirs = [str(tmp_path / f"grid_{lr:g}") for lr in LRS]
  grid = grid_fit.fit_grid(task, config, dirs, LRS)
  for (got, result), lr, workdir in zip(grid, LRS, dirs):
    want, alone = loop.fit(task, config, str(tmp_path / f"alone_{lr:g}"), learning_rate=lr)
    _close(want, got)
    assert result.learning_rate == lr and result.final_step == alone.final_step == 4
    assert result.best_epoch == alone.best_epoch and result.workdir == workdir
    assert [h["epoch"] for h in result.history] == [0, 1]
    for h, w in zip(result.history, alone.history):
      assert h.keys() == w.keys()
      np.testing.assert_allclose(h["loss"], w["loss"], rtol=1e-5)
      assert h["accuracy"] == w["accuracy"]
    best, meta = checkpointing.best_variables(workdir)  # the member's own best checkpoint
    assert meta["learning_rate"] == lr and meta["epoch"] == result.best_epoch
    assert len(result.epoch_times) == 2


@pytest.mark.slow
def test_grid_preempted_then_resumed_matches_uninterrupted_grid(tmp_path):
  task = tiny.make_task(n_train=32)
  config = _config()
  straight = grid_fit.fit_grid(task, config, [str(tmp_path / f"s{lr:g}") for lr in LRS], LRS)
  inner = task.train_batches

  def preempted(epoch):
    for i, batch in enumerate(inner(epoch)):
      if epoch == 1 and i == 1:
        os.kill(os.getpid(), signal.SIGTERM)
      yield batch

  task.train_batches = preempted
  dirs = [str(tmp_path / f"r{lr:g}") for lr in LRS]
  with pytest.raises(loop.Preempted) as info:
    grid_fit.fit_grid(task, config, dirs, LRS)
  assert info.value.step < 4
  assert all(str(info.value.step) in os.listdir(os.path.join(d, "checkpoints")) for d in dirs)
  task.train_batches = inner
  resumed = grid_fit.fit_grid(task, config, dirs, LRS)
  for (want, w), (got, g) in zip(straight, resumed):
    _close(want, got)
    assert [h["accuracy"] for h in g.history] == [h["accuracy"] for h in w.history]


def test_members_at_once_knob():
  task = tiny.make_task()
  assert grid_fit.members_at_once(tiny.small_config(grid_members=2), task, 4) == 2
  assert grid_fit.members_at_once(tiny.small_config(grid_members=9), task, 4) == 4
  assert grid_fit.members_at_once(tiny.small_config(parallel="pmap"), task, 4) == 1
  # Auto: a tiny model's state fits many times over in free memory.
  assert grid_fit.members_at_once(tiny.small_config(), task, 4) == 4
  # params + batch_stats + Adam's two moments of every trainable parameter, in bytes.
  params = sum(x.size for x in jax.tree.leaves(task.variables["params"]))
  stats = sum(x.size for x in jax.tree.leaves(task.variables["batch_stats"]))
  assert params * 3 * 4 + stats * 4 <= grid_fit.state_bytes(tiny.small_config(), task) \
      <= params * 3 * 4 + stats * 4 + 64
  with pytest.raises(ValueError, match="grid_members=-1"):
    grid_fit.members_at_once(tiny.small_config(grid_members=-1), task, 4)


@pytest.mark.slow
def test_grid_runs_in_chunks_when_fewer_fit(tmp_path):
  task = tiny.make_task(n_train=32)
  lrs = (1e-3, 1e-2, 3e-2)
  config = _config(grid_members=2)
  out = grid_fit.fit_grid(task, config, [str(tmp_path / f"{lr:g}") for lr in lrs], lrs)
  assert [r.learning_rate for _, r in out] == list(lrs)
  assert all(r.final_step == 4 and len(r.history) == 2 for _, r in out)
