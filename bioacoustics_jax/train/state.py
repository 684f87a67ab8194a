"""TrainState: step, params, BatchNorm statistics and optimizer state in one pytree.

Kept as a flax struct (a pytree) so it can be donated to the jitted step, replicated for pmap
and saved/restored by orbax as one item. `apply_fn`/`tx` are static (not checkpointed).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray
  params: Any
  batch_stats: Any
  opt_state: Any
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

  @classmethod
  def create(cls, variables: dict, tx: optax.GradientTransformation) -> "TrainState":
    if "params" not in variables:
      raise KeyError(f"Variables have no 'params' collection (got {sorted(variables)}).")
    params = variables["params"]
    return cls(step=jnp.zeros((), jnp.int32), params=params,
               batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params), tx=tx)

  def apply_gradients(self, grads: Any, batch_stats: Any) -> "TrainState":
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    return self.replace(step=self.step + 1, params=optax.apply_updates(self.params, updates),
                        batch_stats=batch_stats, opt_state=opt_state)

  def variables(self) -> dict:
    """Flax variables for `module.apply` (batch_stats only when the model has any)."""
    out = {"params": self.params}
    if self.batch_stats:
      out["batch_stats"] = self.batch_stats
    return out

  def to_checkpoint(self) -> dict:
    return {"step": self.step, "params": self.params, "batch_stats": self.batch_stats,
            "opt_state": self.opt_state}

  def from_checkpoint(self, restored: dict) -> "TrainState":
    return self.replace(**restored)

