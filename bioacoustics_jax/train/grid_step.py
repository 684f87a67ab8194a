"""The train step of a learning-rate grid: one step for every member (train/grid_fit.py).

Kept apart from the grid's loop so that a step benchmark (experiments/perf/bench_train_step.py)
imports no data or checkpoint code.
"""

from __future__ import annotations

import jax

from bioacoustics_jax.train.state import TrainState


def make_grid_step(per_device_step, make_tx):
  """`step((stacked state, lrs [G]), batch, rng) -> ((state, lrs), {"loss" [G], "count" [G]})`:
  the per-device step vmapped over the members, the batch and the key shared. `make_tx(lr)`
  builds a member's optimizer from its (traced) learning rate; its state has the same structure
  at any lr, so the members' optimizer states stack."""

  def one(state: TrainState, lr, batch, rng):
    new, out = per_device_step(state.replace(tx=make_tx(lr)), batch, rng)
    return new.replace(tx=state.tx), out

  many = jax.vmap(one, in_axes=(0, 0, None, None))

  def step(grid, batch, rng):
    state, lrs = grid
    state, out = many(state, lrs, batch, rng)
    return (state, lrs), out

  return step
