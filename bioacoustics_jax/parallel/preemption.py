"""A preemption notice (SIGTERM) as a stop flag that every host agrees on, at the same step.

One process: SIGTERM sets a flag the training loop reads after each step.

Several processes (jax.distributed): the host that gets SIGTERM may be the only one (a
maintenance event on one VM of a slice, `kill` on one worker). If it stopped alone, its peers
would wait forever in the next step's collectives. JAX's preemption sync service handles this:
it catches SIGTERM on any host, tells the others through the coordination service, and picks
one step (the furthest step any host has reached, plus one) at which
`multihost_utils.reached_preemption_sync_point` returns True on every host. The loop then
saves a checkpoint and stops there on all hosts. The loop must report every step, in order;
that check is a local flag read until a notice arrives. No Python SIGTERM handler is installed
then, because it would replace the service's handler.
"""

from __future__ import annotations

import signal
import threading

import jax
from absl import logging
from jax.experimental import multihost_utils


def _sync_service() -> bool:
  from jax._src import distributed as jax_distributed  # pylint: disable=g-import-not-at-top
  return (jax.process_count() > 1
          and jax_distributed.global_state.preemption_sync_manager is not None)


class StopFlag:
  """`reached(step)` after each training step: True from the step at which every host stops.

  Use as a context manager, so a Python SIGTERM handler (one process) is removed afterwards.
  """

  def __init__(self):
    self.raised = False
    self._previous = None
    self._multihost = _sync_service()
    if not self._multihost and threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame) -> None:
    del signum, frame
    logging.warning("SIGTERM received: saving a checkpoint after this step.")
    self.raised = True

  def reached(self, step: int) -> bool:
    """Reports `step` (every step, in order, on every host); True once the hosts stop here."""
    if self._multihost and not self.raised:
      if multihost_utils.reached_preemption_sync_point(step):
        logging.warning("Preemption notice on a host: every host saves step %d and stops.", step)
        self.raised = True
    return self.raised

  def restore(self) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None

  def __enter__(self) -> "StopFlag":
    return self

  def __exit__(self, *exc) -> None:
    self.restore()
