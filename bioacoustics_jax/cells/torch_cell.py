"""The PyTorch cell, frozen: the JAX cell's work with the model's PyTorch reference.

    es = torch_cell.embeddings(cell, config)     # store.py calls it (and caches the result)

Model names of the form "torch:<model id>" (e.g. "torch:rn18") are cells of this kind (and of
torch_finetuned.py), with the same opened Cell the JAX cells get: same splits, input rate, batch
size, cache layout and metadata; their rows land in results.csv beside the JAX rows under the
model name "torch:rn18". The reference starts from the preset's PyTorch file, or at random init
from `torch.manual_seed(config.seed)`.

Not collective: process 0 runs it alone.
"""

from __future__ import annotations

import importlib.util

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import ml_collections

from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.zoo import Backbone

COLLECTIVE = False


def check_model(model: Backbone) -> None:
  """Fails now (before any cell runs) if `model` has no PyTorch baseline, naming what is missing:
  no reference, an architecture without a torch family, or a package its reference imports."""
  if model.preset.reference is None:
    raise ValueError(f"Model {model.name!r} has no PyTorch reference, so 'torch:{model.name}' "
                     "cannot run.")
  fam = torch_embed.family(model.architecture)  # names the supported architectures
  missing = [p for p in fam.packages if importlib.util.find_spec(p) is None]
  if missing:
    raise ModuleNotFoundError(
        f"'torch:{model.name}' needs the Python package(s) {missing} for its PyTorch reference "
        f"({model.preset.reference}); install them with torch in one pip command (see "
        "requirements.txt), or drop 'torch:{model.name}' from config.models.")


def embeddings(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """The frozen cell's embedding set (the caller caches it)."""
  return extract(cell, torch_embed.build_backbone(cell.backbone, seed=int(config.seed)),
                 cell.meta())


def extract(cell: Cell, backbone: torch_embed.TorchBackbone, meta: dict) -> EmbeddingSet:
  """The cell's split embedded by the torch `backbone`, `meta` recorded."""
  return torch_embed.torch_embedding_set(
      backbone, cell.split, batch_size=cell.batch_size, sample_rate=cell.rate,
      drop_background=cell.drop_background, meta=meta, dtype=cell.embed_dtype)
