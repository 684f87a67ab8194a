"""Child of test_preemption.py: one of two CPU processes (2 fake devices each) fine-tuning a
tiny model. Phase "preempt": process 1 alone gets SIGTERM mid-epoch; both must stop at the same
step with a checkpoint (exit 143, as a preempted run does). Phase "resume": the relaunched pair
resumes and finishes, then trains the same run uninterrupted in another folder to compare.

Env: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID (read by maybe_initialize).
Argv: phase, shared dir (checkpoints; process P writes <phase>.P.json there).
"""

import json
import os
import signal
import sys

from bioacoustics_jax.parallel import distributed

SIGNAL_AT = (0, 3)  # (epoch, batch) at which process 1 signals itself


def main(phase: str, shared: str) -> None:
  assert distributed.maybe_initialize(), "the test must set JAX_NUM_PROCESSES=2"
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import loop  # pylint: disable=g-import-not-at-top
  from tests.train import tiny  # pylint: disable=g-import-not-at-top

  me = jax.process_index()
  config = tiny.small_config(num_epochs=3)
  out = os.path.join(shared, f"{phase}.{me}.json")
  if phase == "preempt":
    # A slow input (0.3 s a batch) so the notice (polled each second) lands mid-training.
    task = tiny.make_task(batch_size=8, n_train=48, delay=0.3)
    inner = task.train_batches

    def batches(epoch):
      for i, batch in enumerate(inner(epoch)):
        if me == 1 and (epoch, i) == SIGNAL_AT:
          os.kill(os.getpid(), signal.SIGTERM)  # one host's preemption notice
        yield batch

    task.train_batches = batches
    try:
      loop.fit(task, config, os.path.join(shared, "run"), learning_rate=1e-2)
    except loop.Preempted as e:
      with open(out, "w") as f:
        json.dump({"stopped": e.step}, f)
      raise
    raise AssertionError("fit finished although a host was preempted")
  resumed, result = loop.fit(tiny.make_task(batch_size=8, n_train=48), config,
                             os.path.join(shared, "run"), learning_rate=1e-2)
  straight, want = loop.fit(tiny.make_task(batch_size=8, n_train=48), config,
                            os.path.join(shared, "straight"), learning_rate=1e-2)
  diff = max(float(np.max(np.abs(a - b)))
             for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)))
  with open(out, "w") as f:
    json.dump(dict(final_step=result.final_step, max_diff=diff, total_steps=want.final_step,
                   same_history=result.history == want.history), f)
  print(f"child done {me}", flush=True)


if __name__ == "__main__":
  main(*sys.argv[1:])
