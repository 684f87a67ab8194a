"""Validation during training: the loop's per-epoch pass over the validation split.

`make_evaluator(task)` compiles the eval step once (train/step.py, run by parallel/'s eval
runner) and returns `evaluate(variables, placed=False) -> {"loss", "accuracy" | "map"}`, the
numbers train/loop.py chooses the best epoch by. Validation batches are padded and masked (the
same count on every process); a small split's batches are kept in host memory after the first
epoch (VALID_CACHE_BYTES), since rebuilding its input pipeline costs more than the forward pass.
"""

from __future__ import annotations

from typing import Callable, Iterable

import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import losses
from bioacoustics_jax.train import metrics as metrics_lib
from bioacoustics_jax.train import step as step_lib


def make_evaluator(task):
  """`evaluate(variables, placed=False)` over `task.valid_batches` (a loop.TrainTask), or None
  when the task has no validation split."""
  if task.valid_batches is None:
    return None
  run, put_variables = data_parallel.make_eval_fn(
      step_lib.make_eval_step(task.module, task.prepare, task.sample_rate))

  cache: list = []  # [batches] once read, when the split is small (see _cached)

  def evaluate(variables: dict, placed: bool = False) -> dict[str, float]:
    device_vars = variables if placed else put_variables(variables)
    logits, labels = [], []
    for batch in _cached(task.valid_batches, cache):
      out = run(device_vars, batch)
      keep = out["mask"].astype(bool)
      logits.append(out["logits"][keep])
      labels.append(out["label"][keep])
    if not logits or sum(len(x) for x in logits) == 0:
      raise ValueError("The validation split gave no examples; cannot select the best epoch.")
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    target = losses.targets(jnp.asarray(labels), task.num_classes, task.task)
    loss = float(jnp.mean(losses.per_example_loss(jnp.asarray(logits), target, task.task)))
    return metrics_lib.validation_metrics(logits, labels, task.task, loss)

  return evaluate


# Validation batches are kept in host memory up to this size: they are the same every epoch,
# and on a small set rebuilding the input pipeline costs more than the forward pass.
VALID_CACHE_BYTES = 256 << 20


def _cached(make_batches: Callable[[], Iterable[dict]], cache: list) -> Iterable[dict]:
  if cache:
    return make_batches() if cache[0] is None else cache[0]
  kept, size = [], 0
  for batch in make_batches():
    size += sum(np.asarray(v).nbytes for v in batch.values())
    if size > VALID_CACHE_BYTES:
      cache.append(None)  # too big to keep: read afresh every time (and now)
      return make_batches()
    kept.append(batch)
  cache.append(kept)
  return kept
