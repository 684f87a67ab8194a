"""The PyTorch cell, fine-tuned: the BEANS protocol in torch (baselines/torch_finetune.py) on
the train/valid splits, then the frozen cell's extraction with the trained reference.

    es = torch_finetuned.embeddings(cell, config)     # store.py calls it (and caches the result)

The fine-tuned state_dict (the checkpoint's layout: loadable, or portable to Flax) and every
run's per-epoch history go to `cell.train_dir`, for inspection beside the JAX trainer's
sweep.json. Not collective: process 0 runs it alone.
"""

from __future__ import annotations

import json
import os

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import ml_collections
import torch
from absl import logging

from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.baselines import torch_finetune
from bioacoustics_jax.cells import torch_cell
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.embed.embedding_set import EmbeddingSet

COLLECTIVE = False


def embeddings(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """The fine-tuned cell's embedding set (the caller caches it)."""
  model = cell.backbone
  backbone = torch_embed.build_backbone(model, seed=int(config.seed))
  backbone, result = torch_finetune.torch_finetune(
      model, cell.splits["train"], cell.splits["valid"], config.train, backbone=backbone,
      log=logging.info)
  _save_training(cell.train_dir, backbone, result)
  meta = dict(cell.meta(), learning_rate=result.best.learning_rate,
              best_epoch=result.best.best_epoch, best_metric=result.best.best_metric,
              train_dtype=result.device["dtype"], **result.speed)
  return torch_cell.extract(cell, backbone, meta)


def _save_training(train_dir: str, backbone: torch_embed.TorchBackbone,
                   result: torch_finetune.TorchFinetuneResult) -> None:
  os.makedirs(train_dir, exist_ok=True)
  torch.save(backbone.reference.state_dict(), os.path.join(train_dir, "backbone.pt"))
  runs = [dict(learning_rate=r.learning_rate, metric=r.metric, best=r.best_metric,
               best_epoch=r.best_epoch, seconds=r.seconds, history=r.history)
          for r in result.runs]
  with open(os.path.join(train_dir, "torch_sweep.json"), "w") as f:
    json.dump({"runs": runs, "selected_learning_rate": result.best.learning_rate}, f, indent=1)
