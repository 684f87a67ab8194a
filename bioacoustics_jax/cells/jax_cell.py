"""The JAX cell, frozen: the backbone's starting variables, then jitted extraction of the split.

    es = jax_cell.embeddings(cell, config)      # store.py calls it (and caches the result)

Starting variables (`start_variables`): the preset's weights file (ported, or its ported orbax
directory), the torch reference's random init ported into Flax when the cell shares it with its
`torch:` twin (cell.init == "torch": cell.SHARED_INIT, imported by name so a JAX-only run never
imports torch), else Flax's own init at the seed (cached, zoo/init_cache.py). Fine-tuned cells
start the same way and train first (jax_finetuned.py).

Collective: every process runs it (extraction is a collective over all devices and hosts).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from bioacoustics_jax import zoo
from bioacoustics_jax.cells import cell as cell_lib
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.zoo import init_cache
from bioacoustics_jax.zoo import preset as preset_lib

COLLECTIVE = True


def embeddings(cell: cell_lib.Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """The frozen cell's embedding set (the caller caches it)."""
  return extract(cell, start_variables(cell, config), cell.meta())


def start_variables(cell: cell_lib.Cell, config: ml_collections.ConfigDict) -> Any:
  """The backbone's variables before any training (see the module doc)."""
  sample = cell.backbone.model_recipe.prepare(
      jnp.zeros((1, cell.split.info.num_samples(cell.rate)), jnp.float32), cell.rate)
  if cell.init == "torch":  # the torch reference's random init, shared with torch: cells
    shared_init = preset_lib.load_attr(cell_lib.SHARED_INIT)
    return shared_init(cell.backbone, seed=int(config.seed), sample=sample)
  return init_cache.init_variables(cell.backbone, jax.random.key(config.seed), sample)


def extract(cell: cell_lib.Cell, variables: Any, meta: dict) -> EmbeddingSet:
  """The cell's split embedded with `variables` on every local device, `meta` recorded."""
  meta = dict(meta, framework="jax", dtype=cell.embed_dtype,
              device_kind=jax.devices()[0].device_kind, device_count=jax.device_count())
  embed_fn = _embed_fn(cell.backbone, cell.rate, cell.embed_dtype)
  return extract_lib.extract(embed_fn, extract_lib.place_variables(variables), cell.batches(),
                             task=cell.split.info.task,
                             class_names=list(cell.split.info.class_names),
                             num_batches=cell.num_batches(), desc=cell.desc, meta=meta)


@functools.lru_cache(maxsize=16)
def _embed_fn(backbone: zoo.Backbone, rate: int, dtype: str):
  """One jitted extractor per (Backbone, rate, compute dtype): frozen and fine-tuned cells share
  its compilation (variables are an argument, not a constant). bfloat16 computes in bf16 with
  float32 parameters and a float32 embedding out."""
  module = backbone.training_module(cross_replica_bn=False, regularization=False,
                                    dtype=None if dtype == "float32" else jnp.dtype(dtype))
  return extract_lib.make_embed_fn(module, backbone.model_recipe.prepare, rate)[0]
