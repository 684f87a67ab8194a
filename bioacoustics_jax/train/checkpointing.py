"""Orbax checkpoints of one training run: a resume trail and the best epoch's variables.

    <workdir>/checkpoints/<step>/{state,meta}   recent states (resume points), async writes
    <workdir>/best/<step>/{variables,meta}      the best epoch by the validation metric

Two managers because they answer different questions: "where do I resume?" needs the most
recent steps, "what do I evaluate?" needs the best epoch, and one retention policy cannot keep
both without keeping everything. The state is saved as host numpy arrays: the copy is taken
before the next (donating) step reuses the device buffers, and the background write never
races the training loop.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from bioacoustics_jax import paths
from bioacoustics_jax.parallel import distributed


class RunCheckpoints:
  """Periodic + best checkpoints under `workdir` (see module doc)."""

  def __init__(self, workdir: str, *, metric: str, mode: str, keep: int = 2,
               async_save: bool = True):
    self.workdir = paths.absolute(workdir)
    self.metric, self.mode = metric, mode
    # Orbax syncs the hosts with device collectives while it creates a manager; on CPU (gloo)
    # a host more than 30 s late fails them, so all arrive here first.
    distributed.barrier("checkpoint managers")
    self.latest = ocp.CheckpointManager(
        paths.join(self.workdir, "checkpoints"),
        options=ocp.CheckpointManagerOptions(max_to_keep=max(int(keep), 1), create=True,
                                             enable_async_checkpointing=async_save,
                                             multiprocessing_options=_barriers("latest")),
        item_names=("state", "meta"))
    self.best = ocp.CheckpointManager(
        paths.join(self.workdir, "best"),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=1, create=True, best_fn=lambda m: float(m[metric]), best_mode=mode,
            keep_checkpoints_without_metrics=False, enable_async_checkpointing=async_save,
            multiprocessing_options=_barriers("best")),
        item_names=("variables", "meta"))

  def latest_step(self) -> int | None:
    return self.latest.latest_step()

  def save_state(self, step: int, host_state: dict, meta: dict, *, force: bool = False) -> None:
    """Saves a resume point (host numpy state + JSON meta: epoch, history, best so far)."""
    if step in self.latest.all_steps():
      return
    self.latest.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(host_state),
                                                   meta=ocp.args.JsonSave(meta)), force=force)

  def restore_state(self, template: dict) -> tuple[dict, dict] | None:
    """(state like `template`, meta) of the latest finished checkpoint, or None if none."""
    step = self.latest.latest_step()
    if step is None:
      return None
    restored = self.latest.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(template), meta=ocp.args.JsonRestore()))
    logging.info("Resuming from %s/checkpoints/%d", self.workdir, step)
    return restored["state"], restored["meta"]

  def save_best(self, step: int, variables: Any, metrics: dict, meta: dict) -> None:
    self.best.save(step, args=ocp.args.Composite(variables=ocp.args.StandardSave(variables),
                                                 meta=ocp.args.JsonSave(meta)),
                   metrics={k: float(v) for k, v in metrics.items()}, force=True)

  def best_dir(self) -> str | None:
    step = self.best.best_step()
    return None if step is None else paths.join(self.workdir, "best", str(step))

  def wait(self) -> None:
    self.latest.wait_until_finished()
    self.best.wait_until_finished()

  def close(self) -> None:
    self.latest.close()
    self.best.close()


def best_variables(workdir: str) -> tuple[dict, dict]:
  """(variables, meta) of the best epoch saved by a finished (or interrupted) run in `workdir`.

  Variables come back as numpy arrays in the Flax layout ({"params", "batch_stats"?}) of the
  Classifier (backbone + head); `variables["params"]["backbone"]` is the fine-tuned backbone.
  """
  directory = paths.join(paths.absolute(workdir), "best")
  if not paths.isdir(directory):
    raise FileNotFoundError(f"No best checkpoint under {directory}: training has not finished "
                            "an epoch with validation there. Run finetune "
                            "first, or check the workdir.")
  distributed.barrier("read best checkpoint")  # see RunCheckpoints.__init__
  with ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(
      read_only=True, multiprocessing_options=_barriers("read_best")),
                             item_names=("variables", "meta")) as manager:
    step = manager.latest_step()  # max_to_keep=1 with best_fn: the only one left is the best
    if step is None:
      raise FileNotFoundError(f"{directory} holds no finished checkpoint (the run was killed "
                              "before its first validation finished writing).")
    restored = manager.restore(step, args=ocp.args.Composite(
        variables=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
  variables = jax.tree.map(np.asarray, restored["variables"])
  return variables, dict(restored["meta"])


def _barriers(name: str) -> ocp.options.MultiprocessingOptions:
  return ocp.options.MultiprocessingOptions(barrier_sync_key_prefix=name)
