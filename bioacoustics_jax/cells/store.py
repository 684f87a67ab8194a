"""The embedding store: a cell's embedding set, loaded under its key or computed and saved.

    got = store.embed_cell(cell.opened(), config, probe_train=evaluator.needs_train)
    got.embeddings, got.train          # the cell's set; the train split's, for the probes

Every process calls `embed_cell` for every cell. What runs where is marked on the runner
(cell.RUNNERS): a `COLLECTIVE` runner (the JAX cells: training and extraction are collectives
over all devices and hosts) runs on every process, which all take process 0's load-or-compute
decision (`distributed.agree`) and all get the whole set; any other runner (the PyTorch cells)
runs on process 0 alone, and the other processes get None. Only process 0 writes.

Processes sharing the cache folder (sweep trials) compute a cell one at a time: process 0 holds
a lock per key (paths.locked) around the load-or-compute, so the others wait, then load it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import time

import ml_collections
from absl import logging

from bioacoustics_jax import paths
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.parallel import distributed


@dataclasses.dataclass(frozen=True)
class CellEmbeddings:
  """What a cell hands to evaluation: its embedding set and, when the probes asked for it, the
  train split's (its own cached cell, same weights). None where this process got none."""

  embeddings: EmbeddingSet | None
  train: EmbeddingSet | None = None
  probes: bool = True  # False: the probes cannot run for this cell (the reason is logged)


def runner(name: str, model: str):
  """The runner module `name` (cell.RUNNERS) of `model`'s cells, imported now; a missing
  package (torch for a `torch:` cell) is one line naming it and the fix."""
  try:
    return importlib.import_module(name)
  except ModuleNotFoundError as e:
    raise ModuleNotFoundError(
        f"{model!r} needs the Python package {e.name!r}, which is not installed; install "
        "torch, torchvision and transformers in one pip command (see requirements.txt), or "
        f"drop {model!r} from config.models.") from e


def load_or_compute(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet | None:
  """The opened cell's embedding set: loaded when one with the same key exists (same data,
  model, weights, settings, code), else computed and saved under the key by process 0."""
  run = runner(cell.runner, cell.model)
  if not run.COLLECTIVE and not distributed.is_main():
    return None
  with paths.locked(cell.embeddings_path) if distributed.is_main() else contextlib.nullcontext():
    cached = paths.exists(cell.embeddings_path)
    if distributed.agree(cached) if run.COLLECTIVE else cached:
      logging.info("Cell key %s unchanged: loading %s", cell.key, cell.embeddings_path)
      return EmbeddingSet.load(cell.embeddings_path)
    logging.info("Cell key %s: computing %s", cell.key, cell.embeddings_path)
    start = time.perf_counter()
    es = run.embeddings(cell, config)
    es.meta["wall_s"] = round(time.perf_counter() - start, 3)  # training + extraction, this cell
    if distributed.is_main():
      es.save(cell.embeddings_path)
      cell.write_key()
    return es


def embed_cell(cell: Cell, config: ml_collections.ConfigDict, *,
               probe_train: bool = False) -> CellEmbeddings:
  """The opened cell's embedding set and, with `probe_train`, the train split's for the probes
  (None without a train split; `probes=False` when they cannot run)."""
  es = load_or_compute(cell, config)
  if not probe_train or es is None:  # None: a cell this process takes no part in
    return CellEmbeddings(es)
  if cell.framework == "torch" and cell.regime == "finetuned":
    if distributed.is_main():
      logging.warning("%s: probes skipped (the PyTorch trainer keeps no checkpoint to embed "
                      "the train split with)", cell.desc)
    return CellEmbeddings(es, probes=False)
  try:
    train_cell = dataclasses.replace(cell, split_name="train", splits=None).opened()
  except (KeyError, ValueError, FileNotFoundError) as e:
    logging.info("%s: no train split for the probes (%s)", cell.desc, e)
    return CellEmbeddings(es)
  return CellEmbeddings(es, train=load_or_compute(train_cell, config))
