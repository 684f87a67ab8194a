"""Child of test_resume.py: fine-tunes the tiny task into a workdir, checkpointing every step.

Argv: workdir, per-batch delay in seconds (lets the parent SIGKILL it mid-run). Writes
<workdir>/final.npz with the final variables when training finishes.
"""

import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")


def main(workdir: str, delay: float) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import loop  # pylint: disable=g-import-not-at-top
  from tests.train import tiny  # pylint: disable=g-import-not-at-top

  config = tiny.small_config(checkpoint_every_steps=1, async_checkpointing=True,
                             log_every_steps=4)
  variables, _ = loop.fit(tiny.make_task(delay=delay), config, workdir, learning_rate=1e-2)
  flat = jax.tree_util.tree_leaves_with_path(variables)
  np.savez(os.path.join(workdir, "final.npz"),
           **{jax.tree_util.keystr(p): np.asarray(v) for p, v in flat})


if __name__ == "__main__":
  main(sys.argv[1], float(sys.argv[2]))
