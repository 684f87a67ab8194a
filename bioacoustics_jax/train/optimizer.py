"""optax transformation from the train config: Adam/AdamW/SGD, schedule, clipping, freezing.

Freezing uses `optax.multi_transform` with `optax.set_to_zero()` for frozen leaves, so frozen
parameters get exactly zero updates and carry no Adam moments (no memory for them).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import optax

SCHEDULES = ("constant", "cosine", "linear")
OPTIMIZERS = ("adam", "adamw", "sgd")


def learning_rate_schedule(lr: float, schedule: str, total_steps: int,
                           warmup_steps: int = 0) -> optax.Schedule:
  if schedule not in SCHEDULES:
    raise ValueError(f"Unknown schedule {schedule!r}; expected one of {SCHEDULES}.")
  decay_steps = max(total_steps - warmup_steps, 1)
  if schedule == "constant":
    main = optax.constant_schedule(lr)
  elif schedule == "cosine":
    main = optax.cosine_decay_schedule(lr, decay_steps)
  else:
    main = optax.linear_schedule(lr, 0.0, decay_steps)
  if warmup_steps <= 0:
    return main
  warmup = optax.linear_schedule(0.0, lr, warmup_steps)
  return optax.join_schedules([warmup, main], [warmup_steps])


def path_str(path: Sequence[Any]) -> str:
  return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def frozen_mask(params: Any, prefixes: Sequence[str]) -> Any:
  """Pytree of bools: True where the parameter path starts with one of `prefixes`.

  A prefix matches the full path ("backbone/conv1/kernel") or the path under "backbone/"
  (so a spec's frozen_prefixes, written for the bare backbone, work on the Classifier). A
  prefix that matches nothing is an error: a typo must not silently train everything.
  """
  prefixes = tuple(p.strip("/") for p in prefixes if p.strip("/"))
  paths = [path_str(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]

  def matches(path: str, prefix: str) -> bool:
    return any(path == c or path.startswith(c + "/") for c in (prefix, "backbone/" + prefix))

  unused = [p for p in prefixes if not any(matches(path, p) for path in paths)]
  if unused:
    tops = sorted({"/".join(p.split("/")[:2]) for p in paths})
    raise ValueError(f"Freeze prefix(es) {unused} match no parameter. Parameter paths start "
                     f"with: {tops[:30]}")
  return jax.tree_util.tree_map_with_path(
      lambda p, _: any(matches(path_str(p), pre) for pre in prefixes), params)


def make_optimizer(config, params: Any, total_steps: int, learning_rate: float,
                   frozen_prefixes: Sequence[str] = ()) -> optax.GradientTransformation:
  """The optimizer for one run. `config` is a train config (see train/config.py)."""
  if config.optimizer not in OPTIMIZERS:
    raise ValueError(f"Unknown optimizer {config.optimizer!r}; expected one of {OPTIMIZERS}.")
  lr = learning_rate_schedule(learning_rate, config.schedule, total_steps, config.warmup_steps)
  # A callable mask: under multi_transform the inner optimizer sees a tree with frozen leaves
  # masked out, so a precomputed mask tree would not match its structure.
  decay_mask = lambda p: jax.tree.map(lambda x: x.ndim >= 2, p)  # noqa: E731
  if config.optimizer == "adam":
    if config.weight_decay:
      raise ValueError("optimizer='adam' ignores weight_decay; use optimizer='adamw'.")
    base = optax.adam(lr)
  elif config.optimizer == "adamw":
    base = optax.adamw(lr, weight_decay=config.weight_decay, mask=decay_mask)
  else:
    base = optax.chain(optax.add_decayed_weights(config.weight_decay, decay_mask),
                       optax.sgd(lr, momentum=0.9))
  chain = [optax.clip_by_global_norm(config.grad_clip_norm)] if config.grad_clip_norm > 0 else []
  tx = optax.chain(*chain, base)
  prefixes = tuple(frozen_prefixes) + tuple(config.freeze_prefixes)
  if not prefixes:
    return tx
  mask = frozen_mask(params, prefixes)
  labels = jax.tree.map(lambda frozen: "frozen" if frozen else "train", mask)
  return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)
