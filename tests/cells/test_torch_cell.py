"""The PyTorch cells for "torch:<model>" names (frozen and fine-tuned, cached like JAX cells)."""

import json
import os

import ml_collections
import numpy as np
import pytest
import torch

from bioacoustics_jax import grid
from bioacoustics_jax import zoo
from bioacoustics_jax.cells import store
from bioacoustics_jax.cells import torch_cell
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.cells.cell import split_model_name
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.train import config as config_lib


def _config(**train):
  train_config = config_lib.default_train_config()
  train_config.update(dict(batch_size=8, eval_batch_size=8, num_epochs=2, learning_rates=(1e-3,)))
  train_config.update(train)
  return ml_collections.ConfigDict(dict(
      seed=42, model_overrides=dict(width=4), weights_dir="",
      data=dict(split="test", skip_bad_audio=False, drop_background=False),
      embed=dict(batch_size=8), train=train_config))


def _cell(workdir, root, regime, model=zoo.resolve("rn18", dict(width=4))):
  return Cell(dataset="synth_birds", model="torch:rn18", regime=regime, backbone=model,
              cache_dir=workdir, data_root=root, embed_batch_size=8, seed=42,
              train=_config().train.to_dict() if regime == "finetuned" else None)


def test_frozen_and_finetuned_cells(tiny_root, tmp_path):
  config, workdir = _config(), str(tmp_path)
  frozen = store.load_or_compute(_cell(workdir, tiny_root, "frozen").opened(), config)
  split = pipeline.open_split("synth_birds", "test", data_root=tiny_root)
  assert len(frozen) == split.num_examples and frozen.dim == 1000
  assert frozen.meta["model"] == "torch:rn18" and frozen.meta["framework"] == "torch"
  cell = _cell(workdir, tiny_root, "frozen").opened()
  assert cell.embeddings_path.startswith(
      os.path.join(workdir, "embeddings", "synth_birds", "torch-rn18", "frozen-"))
  assert os.path.exists(cell.embeddings_path) and os.path.exists(cell.key_path)
  assert cell.key_inputs["framework"] == "torch"
  again = store.load_or_compute(_cell(workdir, tiny_root, "frozen").opened(), config)
  np.testing.assert_array_equal(again.embeddings, frozen.embeddings)  # loaded, not recomputed

  tuned = store.load_or_compute(_cell(workdir, tiny_root, "finetuned").opened(), config)
  assert tuned.meta["learning_rate"] == 1e-3 and tuned.meta["best_epoch"] in (0, 1)
  assert not np.allclose(tuned.embeddings, frozen.embeddings)
  np.testing.assert_array_equal(tuned.labels, frozen.labels)
  train_dir = _cell(workdir, tiny_root, "finetuned").opened().train_dir
  with open(os.path.join(train_dir, "torch_sweep.json")) as f:
    sweep = json.load(f)
  assert sweep["selected_learning_rate"] == 1e-3 and len(sweep["runs"][0]["history"]) == 2
  state = torch.load(os.path.join(train_dir, "backbone.pt"), weights_only=True)
  assert "conv1.weight" in state and "fc.weight" in state  # the reference's own key layout


def test_names_are_checked():
  assert split_model_name("torch:vggish") == ("torch", "vggish")
  assert split_model_name("rn18") == ("jax", "rn18")
  torch_cell.check_model(zoo.resolve("vggish"))
  with pytest.raises(KeyError, match="known models"):
    grid.resolve_models(ml_collections.ConfigDict(dict(
        models=("torch:nope",), model_overrides={}, weights_dir="")))
  with pytest.raises(ValueError, match="Unknown regime"):
    _cell("/tmp/unused", "/tmp/unused", "thawed")
