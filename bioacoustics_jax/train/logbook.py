"""Where training numbers go: workdir/metrics.jsonl, TensorBoard event files, and the log.

Only process 0 writes (every process computes the same replicated metrics). A resumed run
appends; lines carry the global step, so steps replayed after a kill appear twice and the
later line is the one that counts. The workdir may be a URI (gs://, through
bioacoustics_jax/paths.py).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import jax
from absl import logging

from bioacoustics_jax import paths


class Logbook:
  """Writes one JSON object per event to metrics.jsonl (and scalars to TensorBoard)."""

  def __init__(self, workdir: str, tensorboard: bool = True):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._writer = None
    if self.enabled:
      paths.makedirs(workdir)
      if tensorboard:
        import tensorflow as tf  # pylint: disable=g-import-not-at-top  (heavy; only if asked)
        self._tf = tf
        from tensorflow.core.framework import summary_pb2  # pylint: disable=g-import-not-at-top
        self._writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
        # tf.summary.scalar lives in the tensorboard package, which tensorflow-cpu 2.21 no
        # longer installs; the core op plus the "scalars" plugin tag writes the same record.
        self._metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))

  def write(self, kind: str, step: int, **values: Any) -> None:
    if not self.enabled:
      return
    row = {"kind": kind, "step": int(step), "time": round(time.time(), 3), **values}
    with paths.open(self.path, "a") as f:
      f.write(json.dumps(row, default=float) + "\n")
    if self._writer is not None:
      with self._writer.as_default(step=int(step)):
        for key, value in values.items():
          if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._scalar(f"{kind}/{key}", value)
      self._writer.flush()

  def _scalar(self, tag: str, value: float) -> None:
    self._tf.summary.write(tag, self._tf.constant(float(value), self._tf.float32),
                           metadata=self._metadata)

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


def read_metrics(workdir: str) -> list[dict]:
  """All rows of workdir/metrics.jsonl (empty list if the run wrote none)."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not paths.exists(path):
    return []
  return [json.loads(line) for line in paths.read_text(path).splitlines() if line.strip()]


def log_epoch(epoch: int, metrics: dict, lr: float) -> None:
  logging.info("epoch %d (lr %g): %s", epoch, lr,
               ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
