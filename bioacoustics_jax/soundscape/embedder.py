"""The model side of an archive: one resolved Backbone, its variables placed once, its jitted
extractor over every device, and the settings that make a store's numbers what they are.

A window's embedding must not depend on which windows share its batch (a resumed run, a grown
folder, another number of hosts batch them differently). Most input recipes are per example;
a recipe with batch statistics (paper_mel3 divides by the batch maximum) is run here on each
window alone (vmap over rows: each window divided by its own maximum), and the store's settings
say so (`statistics: "per window"`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax import zoo
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax import source_code
from bioacoustics_jax.soundscape import windows as windows_lib
from bioacoustics_jax.zoo import init_cache

# The code that turns a recording into a stored row, beside the Backbone's own (identity()):
# this module and every package module it imports, computed (source_code.py), never listed.
_CODE = ("bioacoustics_jax.soundscape.embedder",)


def per_window(recipe) -> Any:
  """`recipe.prepare` with any batch statistic taken over each window alone."""
  if not recipe.uses_batch_statistics:
    return recipe.prepare

  def prepare(audio, sample_rate):
    return jax.vmap(lambda row: recipe.prepare(row[None], sample_rate)[0])(audio)

  return prepare


class WindowEmbedder:
  """`embed(local_audio [b, T]) -> global [B, D]` for one model and window grid."""

  def __init__(self, model: str, *, overrides: dict | None = None, weights_dir: str = "",
               seed: int = 42, dtype: str = "auto", sample_rate: int = 0):
    self.backbone = zoo.resolve(model, dict(overrides or {}), weights_dir or None)
    self.backbone.check_weights()  # before any audio work: a missing file names its URL
    if not self.backbone.recipe.sample_rate and not sample_rate:
      raise ValueError(f"Model {model!r} takes any input rate; give archive.sample_rate.")
    self.rate = self.backbone.input_rate(sample_rate or None)
    self.seed = int(seed)
    self.dtype = extract_lib.resolve_dtype(dtype).name
    module = self.backbone.training_module(
        cross_replica_bn=False, regularization=False,
        dtype=None if self.dtype == "float32" else jnp.dtype(self.dtype))
    self.fn, self.sharding = extract_lib.make_embed_fn(module, per_window(self.backbone.recipe),
                                                       self.rate)
    self._variables = None
    self._rows = 0  # the first batch's rows: queries reuse that compilation

  def settings(self, spec: windows_lib.WindowSpec, channel: int) -> dict[str, Any]:
    """Everything that decides a stored row's numbers (the store's key)."""
    out = {"backbone": self.backbone.identity(), "input_rate": self.rate,
           "window_seconds": spec.window_seconds, "hop_seconds": spec.hop_seconds,
           "channel": int(channel), "dtype": self.dtype,
           "statistics": "per window" if self.backbone.recipe.uses_batch_statistics else "none",
           "code": source_code.code_hash(_CODE)}
    if self.backbone.preset.weights is None:
      out["random_init_seed"] = self.seed  # random weights: the seed decides them
    return out

  def variables(self, window_samples: int) -> Any:
    """The model's variables, replicated on every device once."""
    if self._variables is None:
      sample = self.backbone.recipe.prepare(jnp.zeros((1, window_samples), jnp.float32),
                                            self.rate)
      host = init_cache.init_variables(self.backbone, jax.random.key(self.seed), sample)
      self._variables = extract_lib.place_variables(host)
    return self._variables

  def dispatch(self, local_audio: np.ndarray) -> jax.Array:
    """Starts the embedding of this process's rows (async); `local_rows(out)` reads them."""
    self._rows = self._rows or len(local_audio)
    placed = data_parallel.put_global(self.sharding, local_audio)
    return self.fn(self.variables(local_audio.shape[1]), placed)

  @staticmethod
  def local_rows(out: jax.Array) -> np.ndarray:
    return extract_lib.local_rows(out)

  def embed(self, audio: np.ndarray) -> np.ndarray:
    """Host rows -> embeddings [N, D] on one process (queries; padded to whole batches of the
    archive's batch size when one ran in this process, so nothing compiles again)."""
    batch = self._rows or extract_lib.batch_size_for_devices(8)
    out = []
    for lo in range(0, len(audio), batch):
      rows = audio[lo:lo + batch]
      padded = np.zeros((batch,) + rows.shape[1:], np.float32)
      padded[:len(rows)] = rows
      out.append(self.local_rows(self.dispatch(padded))[:len(rows)])
    return np.concatenate(out)


def get(model: str, *, overrides: dict | None = None, **kwargs) -> WindowEmbedder:
  """One WindowEmbedder per (model, overrides, weights, seed, dtype, rate) in a process, so
  its compilation and placed variables are shared (an archive, then its queries)."""
  kwargs["dtype"] = extract_lib.resolve_dtype(kwargs.get("dtype", "auto")).name
  return _cached(model, json.dumps(dict(overrides or {}), sort_keys=True),
                 tuple(sorted(kwargs.items())))


@functools.lru_cache(maxsize=4)
def _cached(model: str, overrides: str, kwargs: tuple) -> WindowEmbedder:
  return WindowEmbedder(model, overrides=json.loads(overrides), **dict(kwargs))
