"""The recipe registry: a named audio -> model-input transform, and the shared input checks."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

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
      (paper_mel3 divides by the batch maximum). A data-parallel step must then run `prepare`
      on the whole global batch (all-gather) to match a single-device run; for the others each
      device can prepare its own shard.
  """

  name: str
  sample_rate: int | None
  prepare: Prepare
  description: str = ""
  uses_batch_statistics: bool = False


_RECIPES: dict[str, InputRecipe] = {}


def register_recipe(recipe: InputRecipe) -> InputRecipe:
  """Adds `recipe`; a second recipe under the same name is an error (no silent overrides)."""
  if recipe.name in _RECIPES:
    raise ValueError(f"Input recipe {recipe.name!r} is already registered.")
  _RECIPES[recipe.name] = recipe
  return recipe


def get_recipe(name: str) -> InputRecipe:
  if name not in _RECIPES:
    raise KeyError(f"Unknown input recipe {name!r}; known recipes: {names()}. Register new ones "
                   "with bioacoustics_jax.audio.recipes.register_recipe.")
  return _RECIPES[name]


def names() -> list[str]:
  return sorted(_RECIPES)


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
