"""The JAX cell, fine-tuned: the frozen cell's starting variables, trained on the train split
(the BEANS protocol, train/finetune.py: learning-rate grid, best epoch on valid), then extracted.

    es = jax_finetuned.embeddings(cell, config)      # store.py calls it (and caches the result)

Its runs live under `cell.train_dir` (the training key), so the train-split cell of the probes
resumes the same fine-tuning instead of training again. Collective, like the frozen cell.
"""

from __future__ import annotations

import ml_collections

from bioacoustics_jax.cells import jax_cell
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.train import finetune as finetune_lib

COLLECTIVE = True


def embeddings(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """The fine-tuned cell's embedding set (the caller caches it)."""
  variables = jax_cell.start_variables(cell, config)
  variables, result = finetune_lib.finetune(
      cell.backbone, cell.splits["train"], cell.splits["valid"], config.train, cell.train_dir,
      variables=variables)
  meta = dict(cell.meta(), learning_rate=result.learning_rate, best_epoch=result.best_epoch,
              best_metric=result.best_metric, train_accuracy=result.train_accuracy,
              train_dtype=finetune_lib.compute_dtype_name(config.train), **(result.speed or {}))
  return jax_cell.extract(cell, variables, meta)
