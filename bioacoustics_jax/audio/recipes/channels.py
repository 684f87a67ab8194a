"""Recipes whose image repeats one channel, and the same recipe with that channel once.

paper_mel3 (and paper_mel3_224) repeat one mel image into 3 identical channels because the
ImageNet CNNs take RGB. A network's first convolution is linear in its input channels, so on
such an input it equals the convolution of the one channel with the kernel summed over the
channels, a third of the work, in value and in gradient (models/stem.py). Which recipes repeat
is computed from the recipe itself (`repeated_channels`: its output on noise), never listed.

    n = repeated_channels(recipe)          # 3 for paper_mel3, 1 for a recipe that does not
    one = folded(recipe)                   # the same recipe, output [..., 1] (the channel once)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio.recipes.registry import InputRecipe
from bioacoustics_jax.audio.recipes.registry import takes_axis_name

_PROBE_RATE = 16000  # any-rate recipes are probed at this rate
_PROBE_SECONDS = 1.0


@functools.lru_cache(maxsize=None)
def repeated_channels(recipe: InputRecipe) -> int:
  """How many identical channels the recipe's image has on its last axis: its output on two
  rows of seeded noise, the channels compared exactly; 1 when they differ or when the output
  is not an image [B, H, W, C] with C > 1."""
  rate = recipe.sample_rate or _PROBE_RATE
  noise = jax.random.normal(jax.random.key(0), (2, int(_PROBE_SECONDS * rate)), jnp.float32)
  out = np.asarray(recipe.prepare(noise, rate))
  if out.ndim != 4 or out.shape[-1] < 2:
    return 1
  return out.shape[-1] if bool(np.all(out == out[..., :1])) else 1


@functools.lru_cache(maxsize=None)
def folded(recipe: InputRecipe) -> InputRecipe:
  """`recipe` giving its repeated channel once ([..., 1]); the recipe itself when it repeats
  none. Same name (the image is the same, stored once) and the same batch statistics."""
  if repeated_channels(recipe) == 1:
    return recipe
  prepare = recipe.prepare
  if takes_axis_name(prepare):
    def one(audio, sample_rate, axis_name=None):
      return prepare(audio, sample_rate, axis_name=axis_name)[..., :1]
  else:
    def one(audio, sample_rate):
      return prepare(audio, sample_rate)[..., :1]
  return InputRecipe(name=recipe.name, sample_rate=recipe.sample_rate, prepare=one,
                     description=f"{recipe.description} (its identical channels once)",
                     uses_batch_statistics=recipe.uses_batch_statistics)
