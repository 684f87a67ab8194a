"""One experiment cell run by the PyTorch baseline: what experiment.embedding_set() does, in torch.

experiment.py routes model names of the form "torch:<registry name>" (e.g. "torch:rn18") here;
the rows land in results.csv beside the JAX rows under the model name "torch:rn18".

    es = torch_cell(config, workdir, data_root, "synth_birds", "torch:rn18", "finetuned")

Same semantics as the JAX cell: the embedding set is cached under
`<workdir>/embeddings/<dataset>/<model dir>/<regime>.npz` (a re-run loads it), "frozen" embeds
`config.data.split` with the initial weights (random init from `config.seed`, or the spec's
PyTorch file from `config.weights_dir`), "finetuned" first runs the BEANS protocol
(`config.train`) on the train/valid splits; `config.embed.batch_size` (rounded up to a multiple
of the local JAX device count, so the batches, and thus paper_mel3's batch maximum, are the JAX
path's), `config.data.drop_background`, `config.data.skip_bad_audio`, `config.model_overrides`.
"""

from __future__ import annotations

import json
import os

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import torch
from absl import logging

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.baselines import torch_finetune
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.models import registry

PREFIX = "torch:"
REGIMES = ("frozen", "finetuned")


def is_torch_model(model: str) -> bool:
  """True for "torch:<registry name>" model names (routed to `torch_cell`)."""
  return model.startswith(PREFIX)


def spec_name(model: str) -> str:
  """"torch:rn18" -> "rn18", checked against the registry (an unknown name lists the known)."""
  if not is_torch_model(model):
    raise ValueError(f"{model!r} is not a PyTorch baseline name; write it as "
                     f"'{PREFIX}<registry name>', e.g. '{PREFIX}rn18'.")
  name = model[len(PREFIX):]
  spec = registry.get(name)
  torch_embed.family(spec.architecture)  # fails now, naming the supported architectures
  return name


def model_dir(model: str) -> str:
  """Folder name for a model's files: "torch:rn18" -> "torch-rn18" (no ':' in paths)."""
  return model.replace(":", "-")


def torch_cell(config, workdir: str, data_root: str, dataset: str, model: str,
               regime: str) -> EmbeddingSet:
  """Loads the cell's embedding set if a previous run finished it, else computes and saves it."""
  name = spec_name(model)
  if regime not in REGIMES:
    raise ValueError(f"Unknown regime {regime!r}; known: {list(REGIMES)}")
  path = os.path.join(workdir, "embeddings", dataset, model_dir(model), f"{regime}.npz")
  if os.path.exists(path):
    logging.info("Resuming: loading %s", path)
    return EmbeddingSet.load(path)
  from bioacoustics_jax.experiment import parse_overrides  # pylint: disable=g-import-not-at-top  (experiment imports us)
  overrides = parse_overrides(config.model_overrides)
  skip = bool(config.data.skip_bad_audio)
  split = pipeline.open_split(dataset, config.data.split, data_root=data_root,
                              skip_bad_audio=skip)
  spec = registry.get(name)
  rate = recipes.get_recipe(spec.recipe).sample_rate or split.info.sample_rate
  backbone = torch_embed.build_backbone(name, weights_dir=config.weights_dir or None,
                                        seed=int(config.seed), module_overrides=overrides)
  meta = dict(dataset=dataset, model=model, regime=regime, split=config.data.split,
              sample_rate=rate, skipped=split.skipped)
  if regime == "finetuned":
    train_dir = os.path.join(workdir, "train", dataset, model_dir(model))
    backbone, result = torch_finetune.torch_finetune(
        name, pipeline.open_split(dataset, "train", data_root=data_root, skip_bad_audio=skip),
        pipeline.open_split(dataset, "valid", data_root=data_root, skip_bad_audio=skip),
        config.train, backbone=backbone, log=logging.info)
    _save_training(train_dir, backbone, result)
    meta.update(learning_rate=result.best.learning_rate, best_epoch=result.best.best_epoch,
                best_metric=result.best.best_metric)
  batch_size = extract_lib.batch_size_for_devices(int(config.embed.batch_size))
  es = torch_embed.torch_embedding_set(
      name, split, batch_size=batch_size, sample_rate=rate,
      drop_background=bool(config.data.drop_background), meta=meta, backbone=backbone)
  es.save(path)
  return es


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
