"""The per-device train and eval step, shared by the pmap and the jit + shard_map runners.

Written for ONE device's shard of the global batch, with collectives over `axis_name`:
- The loss is the mean over the real (mask=True) rows of the GLOBAL batch: each device sums its
  masked per-example losses and divides by the global count (a psum), and gradients are psum-ed.
  This equals the single-device gradient of the same global batch whatever the device count or
  the padding, which a pmean of per-device means would not when devices hold unequal real rows.
- BatchNorm: modules built with `bn_axis_name=axis_name` normalise with global-batch statistics
  (cross-replica BN). Padded rows (mask False) never enter the moments: the forward runs inside
  `torch_compatible_layers.batch_norm_context(mask=...)`. The new batch_stats are averaged over
  replicas weighted by their real rows, so models without cross-replica BN still keep one
  identical copy on every replica and a device holding only padding does not pull the
  statistics to zero.
- `make_bn_moments_step` is the no-gradient train-mode forward that BN recalibration ("precise
  BN", train/recalibration.py) sums over the training split.
- The input recipe (audio -> mel/image) runs here, on device, inside the compiled step.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.models import torch_compatible_layers
from bioacoustics_jax.train import losses
from bioacoustics_jax.train.state import TrainState

Prepare = Callable[[jnp.ndarray, int], jnp.ndarray]
DeviceAugment = Callable[[jnp.ndarray, jnp.ndarray, jax.Array], tuple[jnp.ndarray, jnp.ndarray]]


def make_train_step(module: nn.Module, prepare: Prepare, sample_rate: int, *, task: str,
                    num_classes: int, axis_name: str = "data", compute_dtype: Any = None,
                    device_augment: DeviceAugment | None = None,
                    frontend_on_global_batch: bool = True) -> Callable:
  """Returns `step(state, batch, rng) -> (state, {"loss", "count"})` for one device.

  `batch` holds "audio" float [b, T], "label" (int [b] or multi-hot [b, C]) and "mask" bool [b].
  `compute_dtype` (e.g. bf16): params are cast for the forward pass only (float32 masters get
  float32 gradients); modules with a `dtype` field should be built with it as well.
  `frontend_on_global_batch`: recipes may use batch statistics (the paper's CNN input is
  divided by the batch maximum), so each device prepares its own rows with the statistics
  reduced over all devices (`recipes.on_devices`: a scalar pmax): the model sees exactly the
  input a single device would, and no device computes another's frontend. False uses each
  device's own rows for the statistics.
  """
  losses.check_task(task)

  def step(state: TrainState, batch: dict, rng: jax.Array):
    rng = jax.random.fold_in(jax.random.fold_in(rng, state.step), jax.lax.axis_index(axis_name))
    r_aug, r_dropout = jax.random.split(rng)
    inputs = _prepare_rows(prepare, batch["audio"], sample_rate, axis_name,
                           frontend_on_global_batch)
    targets = losses.targets(batch["label"], num_classes, task)
    if device_augment is not None:
      inputs, targets = device_augment(inputs, targets, r_aug)
    weights = batch["mask"].astype(jnp.float32)
    count = jax.lax.psum(weights.sum(), axis_name)

    def loss_fn(params):
      logits, batch_stats = _train_forward(module, params, state.batch_stats, inputs,
                                           batch["mask"], compute_dtype, r_dropout)
      loss_sum = jnp.sum(losses.per_example_loss(logits, targets, task) * weights)
      return loss_sum / jnp.maximum(count, 1.0), batch_stats

    # Mark params as device-varying before differentiating: under shard_map's type system the
    # gradient of a replicated (invariant) input is already summed over devices, under pmap it
    # is not. With varying params both give per-device gradients, summed once below.
    params = jax.tree.map(lambda p: jax.lax.pcast(p, axis_name, to="varying"), state.params)
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    grads = jax.lax.psum(grads, axis_name)
    loss = jax.lax.psum(loss, axis_name)
    batch_stats = _replica_average(batch_stats, weights.sum(), count, axis_name)
    return state.apply_gradients(grads, batch_stats), {"loss": loss, "count": count}

  return step


def make_bn_moments_step(module: nn.Module, prepare: Prepare, sample_rate: int, *,
                         axis_name: str = "data", compute_dtype: Any = None,
                         frontend_on_global_batch: bool = True) -> Callable:
  """`moments(variables, batch, rng) -> {"stats", "squares", "count"}` for one device.

  A train-mode forward without gradient whose BatchNorm layers use momentum 0, so the returned
  batch_stats are THIS batch's statistics (over its real rows, global over replicas with
  cross-replica BN). "stats" and "squares" (each mean squared) are weighted by the device's real
  rows and psum-ed, "count" is the global real-row count: sums over batches then give the
  pooled mean and variance of the whole split (law of total variance), whatever the devices.
  """

  def moments(variables: dict, batch: dict, rng: jax.Array) -> dict:
    rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
    inputs = _prepare_rows(prepare, batch["audio"], sample_rate, axis_name,
                           frontend_on_global_batch)
    params = jax.lax.stop_gradient(variables["params"])
    _, stats = _train_forward(module, params, variables["batch_stats"], inputs, batch["mask"],
                              compute_dtype, rng, momentum=0.0)
    local = batch["mask"].astype(jnp.float32).sum()
    squares = jax.tree_util.tree_map_with_path(
        lambda path, v: jnp.square(v) if _leaf_name(path) == "mean" else jnp.zeros_like(v),
        stats)
    weigh = lambda tree: jax.lax.psum(jax.tree.map(lambda v: v * local, tree), axis_name)  # noqa: E731
    return {"stats": weigh(stats), "squares": weigh(squares),
            "count": jax.lax.psum(local, axis_name)}

  return moments


def _leaf_name(path) -> str:
  last = path[-1]
  return str(getattr(last, "key", getattr(last, "name", last)))


def _train_forward(module: nn.Module, params: Any, batch_stats: Any, inputs: jnp.ndarray,
                   mask: jnp.ndarray, compute_dtype: Any, rng: jax.Array,
                   momentum: float | None = None) -> tuple[jnp.ndarray, Any]:
  """Train-mode forward -> (logits, new batch_stats), BatchNorm over the real rows only."""
  if compute_dtype is not None:
    params = jax.tree.map(lambda p: p.astype(compute_dtype), params)
    inputs = inputs.astype(compute_dtype)
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  with torch_compatible_layers.batch_norm_context(mask=mask, momentum=momentum):
    (logits, _), updates = module.apply(variables, inputs, train=True, mutable=["batch_stats"],
                                        rngs={"dropout": rng})
  return logits, updates.get("batch_stats", {})


def _replica_average(tree: Any, local_count: jnp.ndarray, count: jnp.ndarray,
                     axis_name: str) -> Any:
  # Every replica starts from the same running value, so the real-row-weighted mean of
  # m * old + (1 - m) * stats_d is m * old + (1 - m) * (the pooled batch statistic).
  share = local_count / jnp.maximum(count, 1.0)
  return jax.tree.map(lambda v: jax.lax.psum(v * share, axis_name), tree)


def _prepare_rows(prepare: Prepare, audio: jnp.ndarray, sample_rate: int, axis_name: str,
                  on_global_batch: bool) -> jnp.ndarray:
  if on_global_batch:
    prepare = recipes.on_devices(prepare, axis_name)
  return prepare(audio, sample_rate)


def make_eval_step(module: nn.Module, prepare: Prepare, sample_rate: int,
                   axis_name: str = "data") -> Callable:
  """`eval_step(variables, batch) -> {"logits" float32, "label", "mask"}` (inference mode), for
  one device's rows (batch statistics of the recipe over all devices on `axis_name`).

  Labels and mask pass through so that a multi-host caller gets them gathered together with
  the logits, in the same row order.
  """
  prepare = recipes.on_devices(prepare, axis_name)

  def eval_step(variables: dict, batch: dict) -> dict:
    logits, _ = module.apply(variables, prepare(batch["audio"], sample_rate), train=False)
    return {"logits": logits.astype(jnp.float32), "label": batch["label"], "mask": batch["mask"]}

  return eval_step
