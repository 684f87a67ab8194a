"""fit(): learns, validates, keeps the best epoch, logs, stops on NaN, saves on SIGTERM."""

import os
import signal

import jax
import numpy as np
import pytest

from bioacoustics_jax.parallel import prefetch
from bioacoustics_jax.train import checkpointing
from bioacoustics_jax.train import logbook
from bioacoustics_jax.train import loop
from tests.train import tiny


@pytest.mark.parametrize("parallel", ["shard_map", "pmap"])
def test_fit_learns_and_keeps_best_epoch(tmp_path, parallel):
  task = tiny.make_task()
  config = tiny.small_config(parallel=parallel, num_epochs=4, tensorboard=parallel == "pmap")
  variables, result = loop.fit(task, config, str(tmp_path), learning_rate=3e-2)
  accs = [h["accuracy"] for h in result.history]
  assert len(accs) == 4 and result.final_step == 16
  assert result.best_metric == max(accs) and result.best_metric > 0.7  # chance = 1/3
  assert result.history[result.best_epoch]["accuracy"] == result.best_metric
  best, meta = checkpointing.best_variables(str(tmp_path))
  assert meta["epoch"] == result.best_epoch
  assert set(best) == {"params", "batch_stats"}
  assert jax.tree.structure(best) == jax.tree.structure(variables)
  rows = logbook.read_metrics(str(tmp_path))
  assert [r["step"] for r in rows if r["kind"] == "train"] == list(range(1, 17))
  assert sum(r["kind"] == "valid" for r in rows) == 4
  # Where each epoch's time went (steps, recalibration, validation, checkpoint).
  times = [r for r in rows if r["kind"] == "epoch_time"]
  assert [r["epoch"] for r in times] == [0, 1, 2, 3]
  assert all(r["epoch_seconds"] >= r["steps_seconds"] + r["recalibrate_seconds"]
             + r["validate_seconds"] for r in times)
  if parallel == "pmap":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    events = [str(p) for p in (tmp_path / "tensorboard").iterdir()]
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for v in e.summary.value}
    assert {"train/loss", "valid/accuracy"} <= tags


def test_detection_selects_on_map(tmp_path):
  task = tiny.make_task(task="detection")
  _, result = loop.fit(task, tiny.small_config(num_epochs=2), str(tmp_path), learning_rate=1e-2)
  assert result.metric == "map"
  assert all(0.0 <= h["map"] <= 1.0 for h in result.history)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  task = tiny.make_task(nan_at_batch=3)
  config = tiny.small_config(checkpoint_every_steps=2)
  with pytest.raises(FloatingPointError, match="step 4.*last good checkpoint is step 2"):
    loop.fit(task, config, str(tmp_path), learning_rate=1e-2)
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2"]


def test_sigterm_saves_then_exits_and_resume_finishes(tmp_path):
  task = tiny.make_task()
  inner = task.train_batches

  def batches_that_get_preempted(epoch):
    for i, batch in enumerate(inner(epoch)):
      if epoch == 1 and i == 2:
        os.kill(os.getpid(), signal.SIGTERM)  # as a TPU preemption notice would
      yield batch

  task.train_batches = batches_that_get_preempted
  config = tiny.small_config()
  with pytest.raises(loop.Preempted) as info:
    loop.fit(task, config, str(tmp_path), learning_rate=1e-2)
  # The signal comes as epoch 1's batch 2 is read; with batches placed PREFETCH ahead, that is
  # while step 2 - PREFETCH of the epoch runs, and the loop stops after that step.
  stop = 4 + 2 - prefetch.DEFAULT_SIZE + 1
  assert info.value.code == 143 and info.value.step == stop
  assert str(stop) in os.listdir(tmp_path / "checkpoints")
  task.train_batches = inner
  resumed, result = loop.fit(task, config, str(tmp_path), learning_rate=1e-2)
  uninterrupted, straight = loop.fit(tiny.make_task(), config, str(tmp_path / "straight"),
                                     learning_rate=1e-2)
  assert result.final_step == 12 and [h["epoch"] for h in result.history] == [0, 1, 2]
  # Same computation in the same order on the same devices: identical, not just close.
  assert result.history == straight.history
  for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(uninterrupted)):
    np.testing.assert_array_equal(a, b)


def test_resume_refuses_a_different_run(tmp_path):
  task = tiny.make_task()
  loop.fit(task, tiny.small_config(num_epochs=1), str(tmp_path), learning_rate=1e-2)
  with pytest.raises(ValueError, match="learning_rate"):
    loop.fit(task, tiny.small_config(num_epochs=2), str(tmp_path), learning_rate=1e-3)
