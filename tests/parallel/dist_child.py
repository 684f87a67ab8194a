"""Child of test_distributed.py: one of two CPU processes running data-parallel steps together.

Env: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID (read by maybe_initialize) and
XLA_FLAGS with 2 fake devices. Argv: output .npz path (process 0 writes the final state).
"""

import sys

import jax

from bioacoustics_jax.parallel import distributed


def main(out_path: str) -> None:
  assert distributed.maybe_initialize(), "the test must set JAX_NUM_PROCESSES=2"
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train.state import TrainState  # pylint: disable=g-import-not-at-top
  from tests.train import tiny  # pylint: disable=g-import-not-at-top

  assert jax.process_count() == 2 and jax.device_count() == 4, (jax.process_count(),
                                                                 jax.device_count())
  batch = tiny.random_batch(16, padded=3)
  rows = data_parallel.local_batch_size(16)
  start = jax.process_index() * rows
  local = {k: v[start:start + rows] for k, v in batch.items()}  # this host's shard
  module = tiny.classifier(num_classes=3)
  results = {}
  for mode in ("shard_map", "pmap"):
    step = step_lib.make_train_step(module, tiny.prepare, 0, task="classification",
                                    num_classes=3)
    runner = data_parallel.DataParallel(step, mode)
    state = runner.put_state(TrainState.create(tiny.init_variables(module),
                                               optax.sgd(0.1, momentum=0.9)))
    for _ in range(2):
      state, metrics = runner.step(state, runner.put_batch(local), jax.random.key(1))
    flat = jax.tree_util.tree_leaves_with_path(runner.host_state(state).to_checkpoint())
    results.update({f"{mode}{jax.tree_util.keystr(p)}": np.asarray(v) for p, v in flat})
    results[f"{mode}/loss"] = np.asarray(float(metrics["loss"]))
  if jax.process_index() == 0:
    np.savez(out_path, **results)
  print("child done", jax.process_index(), flush=True)


if __name__ == "__main__":
  main(sys.argv[1])
