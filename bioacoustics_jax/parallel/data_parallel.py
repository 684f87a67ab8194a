"""Runs the per-device step (train/step.py) over every device of every process.

Two interchangeable runners with one interface (`put_state`, `put_batch`, `step`, `host_state`):
- "shard_map": `jax.jit(jax.shard_map(step))` over `jax.make_mesh((n,), ("data",))`; the state
  is one replicated global array per leaf and each process contributes its local rows with
  `jax.make_array_from_process_local_data`. This is the recommended path since JAX 0.8.
- "pmap": `jax.pmap(step, axis_name="data")`; the state carries a leading [local devices] axis
  and each process reshapes its local rows to [local devices, rows per device, ...].
Both donate the train state, so XLA updates params/optimizer state in place.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

MODES = ("shard_map", "pmap")
BATCH_KEYS = ("audio", "label", "mask")


def data_mesh() -> jax.sharding.Mesh:
  """1-D mesh over all global devices, axis "data" (Auto axes: jit may place inputs itself)."""
  return jax.make_mesh((jax.device_count(),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,))


def local_batch_size(global_batch: int) -> int:
  """Rows this process feeds per step; the global batch must split evenly over all devices."""
  if global_batch % jax.device_count():
    raise ValueError(f"Global batch {global_batch} does not split over {jax.device_count()} "
                     f"devices; use a multiple of {jax.device_count()} (train.batch_size).")
  return global_batch // jax.process_count()


class DataParallel:
  """One data-parallel runner; `mode` is "shard_map" or "pmap" (config.train.parallel)."""

  def __init__(self, per_device_step: Callable, mode: str = "shard_map"):
    if mode not in MODES:
      raise ValueError(f"Unknown parallel mode {mode!r}; expected one of {MODES}.")
    self.mode = mode
    self.num_local = jax.local_device_count()
    if mode == "shard_map":
      self.mesh = data_mesh()
      self.replicated = NamedSharding(self.mesh, P())
      self.batch_sharding = NamedSharding(self.mesh, P("data"))
      mapped = jax.shard_map(per_device_step, mesh=self.mesh, in_specs=(P(), P("data"), P()),
                             out_specs=(P(), P()))
      self._step = jax.jit(mapped, donate_argnums=0)
    else:
      self._step = jax.pmap(per_device_step, axis_name="data", in_axes=(0, 0, None),
                            donate_argnums=0)

  def put_state(self, state: Any) -> Any:
    """Host (or single-device) state -> the runner's layout (replicated on every device)."""
    if self.mode == "shard_map":
      return jax.tree.map(lambda x: _replicate_global(np.asarray(x), self.replicated), state)
    # pmap's own layout: a NamedSharding over the local devices, split on the leading axis.
    local_mesh = jax.sharding.Mesh(np.array(jax.local_devices()), ("data",))
    stacked = NamedSharding(local_mesh, P("data"))
    return jax.tree.map(
        lambda x: jax.device_put(np.stack([np.asarray(x)] * self.num_local), stacked), state)

  def put_batch(self, batch: dict) -> dict:
    """This process's rows (numpy) -> the step's batch layout. Extra keys (ids) are dropped."""
    missing = [k for k in BATCH_KEYS if k not in batch]
    if missing:
      raise KeyError(f"Training batch lacks {missing}; it has {sorted(batch)}.")
    local = {k: np.asarray(batch[k]) for k in BATCH_KEYS}
    rows = local["audio"].shape[0]
    if rows % self.num_local:
      raise ValueError(f"This process's batch has {rows} rows, not a multiple of its "
                       f"{self.num_local} local devices; pad the batch (mask=False rows).")
    if self.mode == "shard_map":
      return {k: jax.make_array_from_process_local_data(self.batch_sharding, v)
              for k, v in local.items()}
    return {k: v.reshape((self.num_local, rows // self.num_local) + v.shape[1:])
            for k, v in local.items()}

  def step(self, state: Any, batch: dict, rng: jax.Array) -> tuple[Any, dict]:
    """One step; `state` is donated (do not reuse the argument). Metrics are scalars."""
    state, metrics = self._step(state, batch, rng)
    if self.mode == "pmap":
      metrics = jax.tree.map(lambda m: m[0], metrics)
    return state, metrics

  def map_fn(self, per_device_fn: Callable) -> Callable:
    """`per_device_fn(replicated, batch, rng) -> replicated outputs` (psum-ed inside) run like
    the step over the same devices, no donation: `fn(runner_layout_tree, put_batch(b), rng)`
    returns one host (numpy) copy of the outputs. For passes that are not the step (BN
    recalibration) but need the same axis and the same BatchNorm collectives."""
    if self.mode == "shard_map":
      mapped = jax.jit(jax.shard_map(per_device_fn, mesh=self.mesh,
                                     in_specs=(P(), P("data"), P()), out_specs=P()))
      return lambda tree, batch, rng: jax.tree.map(
          lambda x: np.asarray(x.addressable_data(0)), mapped(tree, batch, rng))
    mapped = jax.pmap(per_device_fn, axis_name="data", in_axes=(0, 0, None))
    return lambda tree, batch, rng: jax.tree.map(lambda x: np.asarray(x[0]),
                                                 mapped(tree, batch, rng))

  def host_state(self, state: Any) -> Any:
    """One copy of the state as numpy arrays (for checkpoints, evaluation, comparisons)."""
    if self.mode == "pmap":
      return jax.tree.map(lambda x: np.asarray(x[0]), state)
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), state)


def replicate(tree: Any) -> Any:
  """A host tree replicated on every device of every host (one explicit copy per leaf)."""
  replicated = NamedSharding(data_mesh(), P())
  return jax.tree.map(lambda x: _replicate_global(np.asarray(x), replicated), tree)


def _replicate_global(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
  # make_array_from_callback works multi-host too (each process fills its own devices).
  return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def make_eval_fn(eval_step: Callable) -> tuple[Callable, Callable]:
  """Jitted eval over the data mesh: returns (run(device_variables, local_batch) -> dict of
  global numpy arrays, put_variables(host_variables) -> replicated device variables).

  Outputs are replicated, i.e. gathered to every process, so every host computes the same
  validation metrics over the whole split.
  """
  mesh = data_mesh()
  replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  fn = jax.jit(eval_step, in_shardings=(replicated, batch_sharding), out_shardings=replicated)

  def put_variables(variables):
    return jax.tree.map(lambda x: _replicate_global(np.asarray(x), replicated), variables)

  def run(variables, batch):
    local = {k: jax.make_array_from_process_local_data(batch_sharding, np.asarray(batch[k]))
             for k in BATCH_KEYS}
    out = fn(variables, local)
    return {k: np.asarray(v.addressable_data(0)) for k, v in out.items()}

  return run, put_variables
