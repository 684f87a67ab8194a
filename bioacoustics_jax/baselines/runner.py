"""One experiment cell run by the PyTorch baseline: the JAX cell's work, in torch.

experiment.py routes model names of the form "torch:<model id>" (e.g. "torch:rn18") here, with
the same resolved Cell (bioacoustics_jax/cell.py) the JAX path gets: same splits, input rate,
batch size, cache path and metadata; the rows land in results.csv beside the JAX rows under the
model name "torch:rn18".

    es = torch_embeddings(cell, config)

"frozen" embeds the cell's split with the initial weights (random init from `config.seed`, or
the preset's PyTorch file), "finetuned" first runs the BEANS protocol (`config.train`) on the
train/valid splits and saves the fine-tuned state_dict and its per-epoch history.
"""

from __future__ import annotations

import importlib.util
import json
import os

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import torch
from absl import logging

from bioacoustics_jax.baselines import shared_init
from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.baselines import torch_finetune
from bioacoustics_jax.cell import Cell
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.zoo import Backbone


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


def shared_init_variables(model: Backbone, seed: int, sample) -> dict:
  """The JAX cell's variables when its random init is shared with the torch cell."""
  return shared_init.torch_init_variables(model, seed=seed, sample=sample)


def torch_embeddings(cell: Cell, config) -> EmbeddingSet:
  """Computes the cell's embedding set with the PyTorch reference (the caller caches it)."""
  model = cell.backbone
  backbone = torch_embed.build_backbone(model, seed=int(config.seed))
  meta = cell.meta()
  if cell.regime == "finetuned":
    backbone, result = torch_finetune.torch_finetune(
        model, cell.open("train"), cell.open("valid"), config.train, backbone=backbone,
        log=logging.info)
    _save_training(cell.train_dir, backbone, result)
    meta.update(learning_rate=result.best.learning_rate, best_epoch=result.best.best_epoch,
                best_metric=result.best.best_metric, train_dtype=result.device["dtype"],
                **result.speed)
  return torch_embed.torch_embedding_set(
      backbone, cell.split, batch_size=cell.batch_size, sample_rate=cell.rate,
      drop_background=cell.drop_background, meta=meta, dtype=cell.embed_dtype)


def _save_training(train_dir: str, backbone: torch_embed.TorchBackbone,
                   result: torch_finetune.TorchFinetuneResult) -> None:
  """The fine-tuned reference's state_dict (checkpoint layout, loadable or portable to Flax)
  and every run's per-epoch history, for inspection next to the JAX trainer's sweep.json."""
  os.makedirs(train_dir, exist_ok=True)
  torch.save(backbone.reference.state_dict(), os.path.join(train_dir, "backbone.pt"))
  runs = [dict(learning_rate=r.learning_rate, metric=r.metric, best=r.best_metric,
               best_epoch=r.best_epoch, seconds=r.seconds, history=r.history)
          for r in result.runs]
  with open(os.path.join(train_dir, "torch_sweep.json"), "w") as f:
    json.dump({"runs": runs, "selected_learning_rate": result.best.learning_rate}, f, indent=1)
