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

from bioacoustics_jax.parallel import distributed

MODES = ("shard_map", "pmap")
BATCH_KEYS = ("audio", "label", "mask")


def data_mesh() -> jax.sharding.Mesh:
  """1-D mesh over all global devices, axis "data" (Auto axes: jit may place inputs itself)."""
  return jax.make_mesh((jax.device_count(),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,))


def over_rows(fn: Callable, **jit_kwargs) -> Callable:
  """Jitted `fn(variables, rows) -> rows`, run by each device on its own rows of a batch
  sharded over the data mesh (variables replicated): shard_map, so no op of a device's work is
  left to jit's partitioner, which replicates an FFT even along its batch axis."""
  return jax.jit(jax.shard_map(fn, mesh=data_mesh(), in_specs=(P(), P("data")),
                               out_specs=P("data")), **jit_kwargs)


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
    self._compiled = False
    if mode == "shard_map":
      self.mesh = data_mesh()
      self.replicated = NamedSharding(self.mesh, P())
      self.batch_sharding = NamedSharding(self.mesh, P("data"))
      mapped = jax.shard_map(per_device_step, mesh=self.mesh, in_specs=(P(), P("data"), P()),
                             out_specs=(P(), P()))
      self._step = jax.jit(mapped, donate_argnums=0)
    else:
      # pmap's own layout: a NamedSharding over the local devices, split on the leading axis.
      self._local_stacked = NamedSharding(
          jax.sharding.Mesh(np.array(jax.local_devices()), ("data",)), P("data"))
      # The key comes as raw key data stacked per device (in_axes 0, see put_rng): with in_axes
      # None, or as a typed key array, pmap copies it from the host at every step.
      self._step = jax.pmap(
          lambda state, batch, key_data: per_device_step(
              state, batch, jax.random.wrap_key_data(key_data)),
          axis_name="data", in_axes=(0, 0, 0), donate_argnums=0)

  def put_state(self, state: Any) -> Any:
    """Host (or single-device) state -> the runner's layout (replicated on every device)."""
    if self.mode == "shard_map":
      return jax.tree.map(lambda x: _replicate_global(np.asarray(x), self.replicated), state)
    with host_to_device():
      return jax.tree.map(lambda x: jax.device_put(np.stack([np.asarray(x)] * self.num_local),
                                                   self._local_stacked), state)

  def put_rng(self, key: jax.Array) -> jax.Array:
    """A PRNG key placed once the way the step takes it (replicated on every device), so no
    step copies it implicitly (the loop runs under jax.transfer_guard("disallow") in tests)."""
    if self._is_placed(key):
      return key
    if str(jax.random.key_impl(key)) != str(jax.random.key_impl(jax.random.key(0))):
      raise ValueError(f"The step's key must use the default PRNG implementation, got "
                       f"{jax.random.key_impl(key)}.")
    data = np.asarray(jax.device_get(jax.random.key_data(key)))
    if self.mode == "shard_map":
      return jax.random.wrap_key_data(_replicate_global(data, self.replicated))
    with host_to_device():  # pmap: [local devices, key data], rewrapped inside the step
      return jax.device_put(np.stack([data] * self.num_local), self._local_stacked)

  def _is_placed(self, key: jax.Array) -> bool:
    if self.mode == "shard_map":
      return getattr(key, "sharding", None) == self.replicated and key.ndim == 0
    return (getattr(key, "sharding", None) == self._local_stacked and key.ndim == 2
            and key.dtype == np.uint32)

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
      return {k: put_global(self.batch_sharding, v) for k, v in local.items()}
    with host_to_device():
      return {k: jax.device_put(v.reshape((self.num_local, rows // self.num_local) + v.shape[1:]),
                                self._local_stacked) for k, v in local.items()}

  def step(self, state: Any, batch: dict, rng: jax.Array) -> tuple[Any, dict]:
    """One step; `state` is donated (do not reuse the argument). Metrics are scalars. `rng`
    is best placed once with put_rng (a plain key is placed here, at every call)."""
    rng = self.put_rng(rng)
    if not self._compiled:
      distributed.warm_up(self._step, state, batch, rng, name=f"train step ({self.mode})")
      self._compiled = True
    state, metrics = self._step(state, batch, rng)
    if self.mode == "pmap":
      # A static slice: `m[0]` would copy the index 0 from the host at every step.
      metrics = jax.tree.map(lambda m: jax.lax.index_in_dim(m, 0, keepdims=False), metrics)
    return state, metrics

  def map_fn(self, per_device_fn: Callable) -> Callable:
    """`per_device_fn(replicated, batch, rng) -> replicated outputs` (psum-ed inside) run like
    the step over the same devices, no donation: `fn(runner_layout_tree, put_batch(b), rng)`
    returns one host (numpy) copy of the outputs. For passes that are not the step (BN
    recalibration) but need the same axis and the same BatchNorm collectives."""
    if self.mode == "shard_map":
      mapped = jax.jit(jax.shard_map(per_device_fn, mesh=self.mesh,
                                     in_specs=(P(), P("data"), P()), out_specs=P()))
      first = lambda x: x.addressable_data(0)  # noqa: E731
    else:
      mapped = jax.pmap(per_device_fn, axis_name="data", in_axes=(0, 0, None))
      first = lambda x: x[0]  # noqa: E731
    compiled = []

    def run(tree, batch, rng):
      if not compiled:
        distributed.warm_up(mapped, tree, batch, rng, name=f"mapped pass ({self.mode})")
        compiled.append(True)
      return jax.tree.map(lambda x: np.asarray(jax.device_get(first(x))),
                          mapped(tree, batch, rng))

    return run

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
  with host_to_device():
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def host_to_device():
  """Marks the one deliberate host-to-device copy of a batch or state: JAX counts
  make_array_from_process_local_data as implicit, so without this a run under
  jax.transfer_guard("disallow") (the tests) could not place anything; every OTHER copy (a numpy
  array slipped into a step, a per-call variables upload) still fails there."""
  return jax.transfer_guard_host_to_device("allow")


def put_global(sharding: NamedSharding, local: np.ndarray) -> jax.Array:
  """This process's rows -> its part of one global array sharded by `sharding`."""
  with host_to_device():
    return jax.make_array_from_process_local_data(sharding, np.asarray(local))


def make_eval_fn(eval_step: Callable) -> tuple[Callable, Callable]:
  """Jitted eval over the data mesh: returns (run(device_variables, local_batch) -> dict of
  global numpy arrays, put_variables(host_variables) -> replicated device variables).

  `eval_step(variables, rows)` runs on each device's rows (`over_rows`, as the
  train step does); outputs are replicated, i.e. gathered to every process, so every host
  computes the same validation metrics over the whole split.
  """
  mesh = data_mesh()
  replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
  fn = over_rows(eval_step, out_shardings=replicated)

  def put_variables(variables):
    return jax.tree.map(lambda x: _replicate_global(np.asarray(x), replicated), variables)

  compiled = []

  def run(variables, batch):
    local = {k: put_global(batch_sharding, batch[k]) for k in BATCH_KEYS}
    if not compiled:
      distributed.warm_up(fn, variables, local, name="eval step")
      compiled.append(True)
    out = fn(variables, local)
    return {k: np.asarray(v.addressable_data(0)) for k, v in out.items()}

  return run, put_variables
