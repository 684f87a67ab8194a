"""Per-example losses and targets for the two task types (classification, detection).

Targets are always float [B, C] (one-hot or multi-hot) so that mixup can blend them and one
loss function serves both tasks; padded rows are removed by the caller's mask weights.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

TASKS = ("classification", "detection")


def targets(labels: jnp.ndarray, num_classes: int, task: str) -> jnp.ndarray:
  """int [B] class ids (classification) or float [B, C] multi-hot (detection) -> float [B, C]."""
  check_task(task)
  if task == "classification":
    if labels.ndim != 1:
      raise ValueError(f"Classification labels must be int [B], got shape {labels.shape}.")
    return jnp.eye(num_classes, dtype=jnp.float32)[labels]
  if labels.ndim != 2 or labels.shape[-1] != num_classes:
    raise ValueError(f"Detection labels must be multi-hot [B, {num_classes}], got shape "
                     f"{labels.shape}.")
  return labels.astype(jnp.float32)


def per_example_loss(logits: jnp.ndarray, target: jnp.ndarray, task: str) -> jnp.ndarray:
  """Softmax cross-entropy (classification) or BCE-with-logits averaged over classes
  (detection, like torch's BCEWithLogitsLoss 'mean' once examples are averaged). -> [B]."""
  check_task(task)
  logits = logits.astype(jnp.float32)
  if task == "classification":
    return optax.softmax_cross_entropy(logits, target)
  return optax.sigmoid_binary_cross_entropy(logits, target).mean(axis=-1)


def check_task(task: str) -> None:
  if task not in TASKS:
    raise ValueError(f"Unknown task {task!r}; expected one of {TASKS}.")
