"""The learning-rate grid trained in one compiled program.

    outputs = fit_grid(task, config, workdirs, learning_rates)  # [(variables, TrainResult)]

The runs of a grid differ only in their learning rate: same start, same data order, same
device randomness. So their train states are stacked on a leading [members] axis and ONE
compiled step (the loop's per-device step, jax.vmap-ed over the members; the learning rate is
an input of the step, the optimizer built from it inside) trains them all: each batch is read,
augmented, placed and put through the input recipe once, and the step, the validation pass and
the BN recalibration pass are compiled once for the whole grid instead of once per lr.

Everything a run writes stays per learning rate and in the one-at-a-time shape: each member is
a train/loop.py `_Fit` over its own `<workdir>/lr_<lr>/` (checkpoints, metrics.jsonl, best
epoch on valid, TrainResult); at each epoch end the grid state is sliced into the members, each
recalibrates, validates and saves as it would alone, and the slices are stacked again.

Exact resume: a member's checkpoint is the one-member state, so a grid killed at any point
resumes as a grid when every member stopped at the same step (a grid always stops so), and as
the one-at-a-time loop otherwise (e.g. a sequential run killed part way), bit for bit either way.

How many members train at once: `train.grid_members` (0 = auto: as many as the state memory
estimate allows, `members_at_once`; 1 = one at a time, the plain loop). The grid needs the
"shard_map" runner; "pmap" runs one at a time.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import grid_step
from bioacoustics_jax.train import loop
from bioacoustics_jax.train import optimizer as optimizer_lib

# Auto sizing: a member costs its state (params, batch_stats, optimizer state) this many times
# over (the stacked state, its gradients and updates, the epoch-end slices), and the grid takes
# at most this share of the free memory. Activations are not estimated: when a large batch's
# activations dominate, set train.grid_members yourself.
STATE_COPIES = 4
MEMORY_SHARE = 0.5


def fit_grid(task: loop.TrainTask, config, workdirs: Sequence[str],
             learning_rates: Sequence[float]) -> list[tuple[dict, loop.TrainResult]]:
  """Trains `task` at every learning rate (workdir per lr); one (variables, TrainResult) each,
  in order, equal within float rounding to `loop.fit` run at each lr in turn."""
  lrs = [float(lr) for lr in learning_rates]
  if len(workdirs) != len(lrs):
    raise ValueError(f"{len(workdirs)} workdirs for {len(lrs)} learning rates.")
  at_once = members_at_once(config, task, len(lrs))
  outputs = []
  for start in range(0, len(lrs), at_once):
    members = [loop._Fit(task, config, d, lr)  # pylint: disable=protected-access
               for d, lr in zip(workdirs[start:start + at_once], lrs[start:start + at_once])]
    if len(members) == 1 or len({m.step for m in members}) > 1:
      if len(members) > 1:
        logging.info("Resuming learning rates %s one at a time: their checkpoints stopped at "
                     "different steps %s.", lrs[start:start + at_once], [m.step for m in members])
      outputs += [m.run() for m in members]
    else:
      outputs += _GridFit(members).run()
  return outputs


def members_at_once(config, task: loop.TrainTask, count: int) -> int:
  """How many grid members train together: train.grid_members, or (0, auto) as many of
  `count` as fit MEMORY_SHARE of the free device memory at STATE_COPIES states each."""
  setting = int(config.get("grid_members", 0))
  if setting < 0:
    raise ValueError(f"train.grid_members={setting}; expected 0 (auto) or a positive count.")
  if config.parallel != "shard_map":
    return 1  # pmap's stacked-per-device layout is not vmapped (see the module doc)
  if setting:
    return min(setting, count)
  per_member = STATE_COPIES * state_bytes(config, task)
  fits = int(MEMORY_SHARE * free_memory_bytes() // max(per_member, 1))
  if fits < count:
    logging.info("Learning-rate grid: %d of %d members at once (%.1f MB of state each, %.1f MB "
                 "free); set train.grid_members to choose.", max(fits, 1), count,
                 per_member / 2**20, free_memory_bytes() / 2**20)
  return max(1, min(count, fits))


def state_bytes(config, task: loop.TrainTask) -> int:
  """Bytes of one member's train state (params, batch_stats, optimizer state), from shapes."""
  tx = optimizer_lib.make_optimizer(config, task.variables["params"], 1, 1.0,
                                    task.frozen_prefixes)
  opt = jax.eval_shape(tx.init, task.variables["params"])
  leaves = jax.tree.leaves((task.variables, opt))
  return int(sum(np.prod(np.shape(x)) * np.dtype(x.dtype).itemsize for x in leaves))


def free_memory_bytes() -> int:
  """Free memory of the first local device (its allocator's stats), or of the host (CPU)."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if "bytes_limit" in stats:
    return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
  return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


@functools.partial(jax.jit, static_argnums=1)
def _unstack(leaves, count: int):
  return [[x[g] for x in leaves] for g in range(count)]


@jax.jit
def _stack(members):
  return [jnp.stack(xs) for xs in zip(*members)]


class _GridFit(loop._Fit):  # pylint: disable=protected-access
  """Members (one `_Fit` per lr, each resumed to the same step) trained by one vmapped step.

  Runs `_Fit.run`'s epoch loop and `train_epoch` on the stacked state; what a run does per lr
  (validation, checkpoints, the NaN check, the result) each member does for itself.
  """

  def __init__(self, members: list[loop._Fit]):  # pylint: disable=super-init-not-called
    first = members[0]
    self.members = members
    self.task, self.config, self.spe, self.total_steps = (first.task, first.config, first.spe,
                                                          first.total_steps)
    self.step = first.step
    self.label = "train lr " + ",".join(f"{m.learning_rate:g}" for m in members)
    for m in members:
      m.validate_missed_epoch()  # before stacking: it may recalibrate the member's state
    # One validation, recalibration and epoch timer for the grid (each compiles once).
    for m in members[1:]:
      m.evaluate, m.recalibrate, m.timer = first.evaluate, first.recalibrate, first.timer
    self.recalibrate, self.timer = first.recalibrate, first.timer
    config, task = self.config, self.task
    make_tx = lambda lr: optimizer_lib.make_optimizer(  # noqa: E731
        config, task.variables["params"], self.total_steps, lr, task.frozen_prefixes)
    self.runner = data_parallel.DataParallel(grid_step.make_grid_step(first.per_device, make_tx),
                                             config.parallel)
    self.rng = self.runner.put_rng(jax.random.key(int(config.seed)))
    self.treedefs = [jax.tree.structure(m.dstate) for m in members]
    hosts = [jax.tree.leaves(m.host_state()) for m in members]
    stacked = jax.tree.unflatten(self.treedefs[0], [np.stack(xs) for xs in zip(*hosts)])
    lrs = np.asarray([m.learning_rate for m in members], np.float32)
    self.dstate = self.runner.put_state((stacked, lrs))
    for m in members:
      m.adopt(None)  # the stacked copy is the only one on the devices
    self.placed: list | None = None
    self.pending: list[tuple[int, Any]] = []

  def spread(self) -> None:
    """Hands each member its slice of the grid state (on the devices) and the step."""
    state, _ = self.dstate
    for m, treedef, leaves in zip(self.members, self.treedefs,
                                  _unstack(jax.tree.leaves(state), len(self.members))):
      m.adopt(jax.tree.unflatten(treedef, leaves))
      m.step = self.step

  def gather(self) -> None:
    """Stacks the members' states again (recalibration replaced their batch_stats)."""
    stacked = _stack([jax.tree.leaves(m.dstate) for m in self.members])
    self.dstate = (jax.tree.unflatten(self.treedefs[0], stacked), self.dstate[1])
    for m in self.members:
      m.adopt(None)

  def end_epoch(self, epoch: int) -> None:
    self.check_finite()
    self.timer.mark("steps")
    placed, self.placed = self.placed, None
    self.spread()
    for m in self.members:
      m.validate(epoch, placed)
      m.save(self.step, epoch_end=True)
    del placed
    self.gather()
    times = self.timer.seconds()  # the grid's epoch: every member's steps and passes
    for m in self.members:
      m.epoch_times.append(times)
      m.book.write("epoch_time", self.step, epoch=epoch, **times)

  def save(self, at_step: int, *, force: bool = False, epoch_end: bool = False) -> None:
    self.spread()
    for m in self.members:
      m.save(at_step, force=force, epoch_end=epoch_end)
      m.adopt(None)

  def check_finite(self) -> None:
    values = [(s, np.asarray(v)) for s, v in jax.device_get(self.pending)]  # one copy
    self.pending.clear()
    rates = self.throughput.window()
    for g, m in enumerate(self.members):
      m.check_losses([(s, float(v[g])) for s, v in values], rates)

  def stop_preempted(self) -> None:
    self.check_finite()
    self.save(self.step, force=True)
    for m in self.members:
      m.ckpts.wait()
    logging.warning("Preempted (SIGTERM on a host): saved step %d of the learning-rate grid "
                    "%s; exiting.", self.step, [m.workdir for m in self.members])
    raise loop.Preempted(self.step)

  def validate_missed_epoch(self) -> None:
    pass  # each member did, before stacking

  def best_checkpoint(self) -> list[str | None]:
    return [m.best_checkpoint() for m in self.members]

  def close(self) -> None:
    for m in self.members:
      m.close()

  def outcome(self, best_checkpoint: list[str | None],
              examples_per_second: float | None) -> list[tuple[dict, loop.TrainResult]]:
    self.spread()
    return [m.outcome(best, examples_per_second)
            for m, best in zip(self.members, best_checkpoint)]
