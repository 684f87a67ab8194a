"""Child of test_pod.py: one of two CPU processes (2 fake devices each) checking the multi-host
pieces together: set-up checks, extraction, the train step under a transfer guard, checkpoints.

Env: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID (read by maybe_initialize).
Argv: shared dir (process 0 writes results.npz there), this process's private dir.
"""

import os
import sys

from bioacoustics_jax.parallel import distributed

NUM_EXAMPLES, LOCAL_BATCH, SAMPLES = 11, 4, 16


def split_batches(process: int, count: int, local_batch: int = LOCAL_BATCH):
  """The pipeline's layout: example j on process j % count, padded batches, equal counts."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  audio = np.random.default_rng(0).normal(size=(NUM_EXAMPLES, SAMPLES)).astype(np.float32)
  mine = list(range(process, NUM_EXAMPLES, count))
  steps = -(-(-(-NUM_EXAMPLES // count)) // local_batch)
  for b in range(steps):
    rows = mine[b * local_batch:(b + 1) * local_batch]
    batch = {"audio": np.zeros((local_batch, SAMPLES), np.float32),
             "label": np.zeros((local_batch,), np.int32), "mask": np.zeros(local_batch, bool),
             "id": np.array([b""] * local_batch, dtype=object)}
    for r, j in enumerate(rows):
      batch["audio"][r], batch["label"][r], batch["mask"][r] = audio[j], j % 3, True
      batch["id"][r] = f"example_{j:02d}".encode()
    yield batch


def expect(error_type, match, fn, *args):
  try:
    fn(*args)
  except error_type as e:
    assert match in str(e), str(e)
    return
  raise AssertionError(f"{fn.__name__} did not raise {error_type.__name__}")


def main(shared: str, private: str) -> None:
  assert distributed.maybe_initialize(), "the test must set JAX_NUM_PROCESSES=2"
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed import extract as extract_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import checkpointing  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train.state import TrainState  # pylint: disable=g-import-not-at-top
  from tests.train import tiny  # pylint: disable=g-import-not-at-top

  me, count = jax.process_index(), jax.process_count()
  assert count == 2 and jax.device_count() == 4
  out = {}
  # Bad set-ups fail on every process, naming the fix.
  expect(distributed.SetupError, "not shared", distributed.check_setup, "{}", private)
  expect(distributed.SetupError, "different config", distributed.check_setup,
         "{}" if me == 0 else '{"seed": 1}', shared)
  distributed.check_setup('{"seed": 0}', shared)
  assert not os.path.exists(os.path.join(shared, ".shared_workdir_check"))

  # Extraction: global arrays from process-local batches, gathered back in split order.
  module = tiny.TinyCNN()
  prepare = lambda audio, rate: jax.numpy.log1p(jax.numpy.abs(  # noqa: E731  per example
      audio.reshape(audio.shape[0], 4, -1)))[..., None]
  variables = module.init(jax.random.key(0), prepare(np.zeros((1, SAMPLES), np.float32), 0))
  fn, _ = extract_lib.make_embed_fn(module, prepare, 0)
  placed = extract_lib.place_variables(jax.device_get(variables))
  with jax.transfer_guard("disallow"):  # every host<->device copy on this path is explicit
    es = extract_lib.extract(fn, placed, split_batches(me, count), task="classification",
                             class_names=["a", "b", "c"])
  out["embeddings"], out["labels"] = es.embeddings, es.labels
  out["ids"] = np.array(es.ids)

  # The train step (both runners) under the same guard.
  step = step_lib.make_train_step(tiny.classifier(num_classes=3), tiny.prepare, 0,
                                  task="classification", num_classes=3)
  batch = tiny.random_batch(16, padded=3)
  rows = data_parallel.local_batch_size(16)
  local = {k: v[me * rows:(me + 1) * rows] for k, v in batch.items()}
  for mode in ("shard_map", "pmap"):
    runner = data_parallel.DataParallel(step, mode)
    state = runner.put_state(TrainState.create(tiny.init_variables(tiny.classifier(3)),
                                               optax.sgd(0.1)))
    rng = runner.put_rng(jax.random.key(1))
    with jax.transfer_guard("disallow"):
      for _ in range(2):
        state, metrics = runner.step(state, runner.put_batch(local), rng)
      out[f"{mode}/loss"] = np.asarray(jax.device_get(metrics["loss"]))
    host = runner.host_state(state)

  # Checkpoints: both managers save the same step asynchronously (distinct barrier prefixes),
  # and every process restores.
  ckpts = checkpointing.RunCheckpoints(os.path.join(shared, "run"), metric="accuracy",
                                       mode="max", async_save=True)
  ckpts.save_state(2, host.to_checkpoint(), {"epoch": 0})
  ckpts.save_best(2, host.variables(), {"accuracy": 0.5}, {"epoch": 0})
  ckpts.wait()
  restored, meta = ckpts.restore_state(jax.tree.map(np.asarray, host.to_checkpoint()))
  ckpts.close()
  assert meta == {"epoch": 0}, meta
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(host.to_checkpoint())):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  best, _ = checkpointing.best_variables(os.path.join(shared, "run"))
  for a, b in zip(jax.tree.leaves(best), jax.tree.leaves(host.variables())):
    np.testing.assert_array_equal(a, b)
  if me == 0:
    np.savez(os.path.join(shared, "results.npz"), **out)
  distributed.barrier("child done")
  print("child done", me, flush=True)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
