"""BatchNorm recalibration ("precise BN"): running statistics recomputed over the training split.

Sits in the training loop (train/loop.py) between an epoch's last step and its validation: the
state's batch_stats are replaced by the pooled statistics of a train-mode, no-gradient forward
over (up to `train.bn_recalibration_batches`) training batches with the current parameters.
Validation, best-epoch selection, checkpoints and the fine-tuned embeddings then all see
statistics that belong to the weights they are used with.

Why: torch's running averages (momentum 0.1) need tens of steps to forget their start (mean 0,
var 1) and to follow moving weights. A small real set has one step per epoch, and the paper's
mel input is tiny (power mel / batch max: median ~1e-7), so after 20 steps bn1's running
variance is still ~0.9**20 = 0.12 against a true variance near 0 and the eval-mode network
predicts one class. Precise BN (pycls, detectron2) fixes this for any dataset size.

The pooled variance is the law of total variance over batches, each weighted by its real rows:
var = E_b[var_b + mean_b**2] - (E_b[mean_b])**2. The pass is a deterministic function of the
parameters and the epoch's batch order, so a resumed run recalibrates to the same bits.
`train.bn_recalibration="off"` keeps the paper-exact running averages.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable

import jax
import numpy as np

from bioacoustics_jax.train import step as step_lib

MODES = ("precise", "off")
# An epoch's device batches are kept for its recalibration only up to this size (small sets,
# where re-reading and re-transferring the split would be a large part of the epoch).
REUSE_BYTES = 256 << 20


def enabled(config, variables: dict) -> bool:
  """Whether to recalibrate: switched on and the model has batch_stats."""
  mode = config.bn_recalibration
  if mode not in MODES:
    raise ValueError(f"train.bn_recalibration={mode!r}; expected one of {MODES}.")
  return mode == "precise" and bool(variables.get("batch_stats"))


class Recalibrator:
  """`recalibrate(params, batch_stats, batches) -> host batch_stats` (see module doc).

  `params`, `batch_stats` are in the runner's device layout; `batches` yields this process's
  padded, masked numpy batches; at most `max_batches` (0 = all) of them are used.
  """

  def __init__(self, task, runner, *, compute_dtype: Any, frontend_on_global_batch: bool,
               max_batches: int, seed: int):
    per_device = step_lib.make_bn_moments_step(
        task.module, task.prepare, task.sample_rate, compute_dtype=compute_dtype,
        frontend_on_global_batch=frontend_on_global_batch)
    self._moments: Callable = runner.map_fn(per_device)
    self._put_batch = runner.put_batch
    self.max_batches = int(max_batches)
    # Dropout/stochastic depth stay active in the train-mode pass (as in pycls); its rng is
    # fixed per batch index, so the result depends only on the params and the batches.
    self._rng = jax.random.fold_in(jax.random.key(int(seed)), 0x5EC1B)

  def can_reuse(self, steps_per_epoch: int) -> bool:
    """Whether one epoch's batches are exactly the ones a recalibration reads."""
    return self.max_batches <= 0 or steps_per_epoch <= self.max_batches

  def fits(self, placed: list) -> bool:
    """Whether keeping these device batches stays within REUSE_BYTES."""
    size = sum(x.size * x.dtype.itemsize for b in placed for x in jax.tree.leaves(b))
    return size <= REUSE_BYTES

  def __call__(self, params: Any, batch_stats: Any, batches: Iterable[dict], *,
               placed: bool = False) -> dict:
    """`placed`: the batches are already in the runner's layout (runner.put_batch)."""
    if self.max_batches > 0:
      batches = itertools.islice(batches, self.max_batches)
    variables = {"params": params, "batch_stats": batch_stats}
    stats = squares = None
    count = 0.0
    for i, batch in enumerate(batches):
      batch = batch if placed else self._put_batch(batch)
      out = self._moments(variables, batch, jax.random.fold_in(self._rng, i))
      if stats is None:
        stats, squares = out["stats"], out["squares"]
      else:
        stats = jax.tree.map(np.add, stats, out["stats"])
        squares = jax.tree.map(np.add, squares, out["squares"])
      count += float(out["count"])
    if stats is None or count == 0:
      raise ValueError("BN recalibration got no training rows; set train.bn_recalibration="
                       "'off' or check the training split.")
    return pooled(stats, squares, count)


def pooled(stats: Any, squares: Any, count: float) -> Any:
  """Weighted sums -> pooled running statistics: `mean` leaves averaged, `var` leaves given the
  between-batch spread of their sibling mean as well (float32, like the BatchNorm variables)."""

  def combine(node):
    if isinstance(node, dict) and "mean" in node and "var" in node:
      mean = node["mean"][0] / count
      var = node["var"][0] / count + node["mean"][1] / count - np.square(mean)
      out = {k: (v[0] / count) for k, v in node.items()}
      out.update(mean=mean, var=np.maximum(var, 0.0))
      return {k: np.asarray(v, np.float32) for k, v in out.items()}
    if isinstance(node, dict):
      return {k: combine(v) for k, v in node.items()}
    return np.asarray(node[0] / count, np.float32)

  zipped = jax.tree.map(lambda a, b: (a, b), stats, squares)
  return combine(_as_dicts(zipped))


def _as_dicts(tree):
  if isinstance(tree, tuple):
    return tree
  if hasattr(tree, "items"):
    return {k: _as_dicts(v) for k, v in tree.items()}
  return tree
