"""The recipe registry: a named audio -> model-input transform, and the shared input checks."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Callable

import jax
import jax.numpy as jnp

from bioacoustics_jax import registry

Prepare = Callable[[jax.Array, int], jax.Array]


@dataclasses.dataclass(frozen=True)
class InputRecipe:
  """A named audio -> model-input transform.

  Attributes:
    name: the recipe's name (what a zoo preset's `recipe` holds).
    sample_rate: the rate `prepare` expects; None means it accepts the dataset's own rate.
    prepare: `prepare(audio [B, T] float32, sample_rate: int) -> model input`, jittable with
      `sample_rate` static.
    description: one line for listings and reports.
    uses_batch_statistics: True when one example's output depends on the rest of its batch
      (paper_mel3 divides by the batch maximum). Its `prepare` then takes `axis_name=None`
      and reduces its statistics with `batch_max` (over every device on that axis when one is
      given), so each device can prepare its own rows and still match a single-device run
      (see `on_devices`).
  """

  name: str
  sample_rate: int | None
  prepare: Prepare
  description: str = ""
  uses_batch_statistics: bool = False

  def __post_init__(self):
    if self.uses_batch_statistics != takes_axis_name(self.prepare):
      raise ValueError(
          f"Input recipe {self.name!r}: uses_batch_statistics={self.uses_batch_statistics} but "
          f"its prepare {'does not take' if self.uses_batch_statistics else 'takes'} "
          "`axis_name`; a recipe with batch statistics takes `axis_name=None` and reduces them "
          "with registry.batch_max, a recipe without takes (audio, sample_rate) only.")


def batch_max(x: jax.Array, axis_name: str | None = None) -> jax.Array:
  """The maximum of `x` over the whole batch: also over every device on `axis_name` when the
  recipe runs on one device's rows inside shard_map / pmap (a scalar pmax), else over `x`."""
  peak = jnp.max(x)
  return peak if axis_name is None else jax.lax.pmax(peak, axis_name)


def takes_axis_name(prepare: Callable) -> bool:
  try:
    return "axis_name" in inspect.signature(prepare).parameters
  except (TypeError, ValueError):  # a builtin or C callable: no keyword to pass
    return False


def on_devices(prepare: Callable, axis_name: str) -> Prepare:
  """`prepare` for one device's rows inside shard_map / pmap over `axis_name`: a recipe with
  batch statistics reduces them over all devices (the global batch, as one device would see
  it); any other recipe is per example, so its rows need nothing from the others.

  XLA's SPMD partitioner replicates an FFT even along its batch axis, so a recipe run by jit
  on a batch-sharded array all-gathers the frames and computes every device's STFT on every
  device: per device, as here, each computes only its own rows.
  """
  return functools.partial(prepare, axis_name=axis_name) if takes_axis_name(prepare) else prepare


RECIPES: registry.Registry[InputRecipe] = registry.Registry(
    "input recipe", hint="Register new ones with bioacoustics_jax.audio.recipes.register_recipe.")
get_recipe = RECIPES.__getitem__
names = RECIPES.names


def register_recipe(recipe: InputRecipe) -> InputRecipe:
  """Adds `recipe`; a second recipe under the same name is an error (no silent overrides)."""
  return RECIPES.register(recipe.name, recipe)


def require_rate(recipe_name: str, expected: int, sample_rate: int) -> None:
  if sample_rate != expected:
    raise ValueError(f"Input recipe {recipe_name!r} needs audio at {expected} Hz, got "
                     f"{sample_rate} Hz; resample in the input pipeline (pass sample_rate="
                     f"recipe.sample_rate to the data loader).")


def as_batch(audio: jax.Array, recipe_name: str) -> jax.Array:
  if audio.ndim != 2:
    raise ValueError(f"Input recipe {recipe_name!r} takes audio [batch, samples], got shape "
                     f"{audio.shape}.")
  return audio.astype(jnp.float32)
