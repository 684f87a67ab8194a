"""JAX and PyTorch cells compare like with like: one random init, one head, one data order.

Frozen: `rn18` (random init shared with torch, config.random_init) and `torch:rn18` give the
same embeddings through the real experiment cells; Flax's own init gives a different network.
Fine-tuned: one epoch from the shared init, head and batches (precise BN included) ends at the
same validation loss in both trainers.
"""

import ml_collections
import numpy as np
import pytest

from bioacoustics_jax import grid
from bioacoustics_jax import registry
from bioacoustics_jax import zoo
from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.baselines import torch_finetune
from bioacoustics_jax.cells import shared_init
from bioacoustics_jax.cells import store
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.cells.cell import resolve_init
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import finetune as finetune_lib

SEED = 42


def _config():
  return ml_collections.ConfigDict(dict(
      seed=SEED, random_init="auto", model_overrides=dict(width=4), weights_dir="",
      data=dict(split="test", skip_bad_audio=False, drop_background=False),
      embed=dict(batch_size=8), train=config_lib.default_train_config()))


RN18 = zoo.resolve("rn18", dict(width=4))  # one Backbone: its cells share one jitted extractor


def _cell(workdir, root, model, init):
  return Cell(dataset="synth_birds", model=model, regime="frozen", backbone=RN18,
              cache_dir=workdir, data_root=root, split_name="train", embed_batch_size=8,
              seed=SEED, init=init)


def _relative(a, b):
  """max |a - b| over the spread of b's rows around their mean (not over |b|: a random ResNet
  maps every clip near one vector, and only the part that differs between clips matters)."""
  return float(np.abs(a - b).max() / np.abs(b - b.mean(axis=0)).max())


def test_init_choice():
  rn18, rn18p = zoo.resolve("rn18"), zoo.resolve("rn18p")
  assert resolve_init("auto", "rn18", ("rn18", "torch:rn18"), rn18) == "torch"
  assert resolve_init("auto", "rn18", ("rn18",), rn18) == "flax"
  assert resolve_init("torch", "rn18", ("rn18",), rn18) == "torch"
  assert resolve_init("auto", "rn18p", ("rn18p", "torch:rn18p"), rn18p) == "weights"
  with pytest.raises(ValueError, match="random_init"):
    resolve_init("shared", "rn18", (), rn18)


@pytest.mark.slow  # 285 s measured on the shared 2-core machine under load (XLA compiles)
def test_frozen_random_init_is_one_network(tiny_root, tmp_path):
  config, workdir = _config(), str(tmp_path)
  shared = store.load_or_compute(_cell(workdir, tiny_root, "rn18", "torch").opened(), config)
  own = store.load_or_compute(_cell(workdir, tiny_root, "rn18", "flax").opened(), config)
  reference = store.load_or_compute(_cell(workdir, tiny_root, "torch:rn18", "torch").opened(),
                                    config)
  assert shared.ids == reference.ids and len(shared) >= 6
  agreement = _relative(shared.embeddings, reference.embeddings)
  assert agreement <= 1e-5, agreement
  assert _relative(own.embeddings, reference.embeddings) > 0.1  # Flax's own init: another net
  keys = {c.key for c in (_cell(workdir, tiny_root, "rn18", i).opened() for i in ("torch", "flax"))}
  assert len(keys) == 2  # the init is part of the cell key
  for es in (shared, reference):
    assert es.meta["extract_examples_per_s"] > 0 and es.meta["extract_compile_s"] >= 0
    assert es.meta["wall_s"] > 0 and es.meta["device_count"] >= 1
  assert reference.meta["device_kind"] == "cpu" and shared.meta["framework"] == "jax"
  print(f"frozen rn18 vs torch:rn18, shared init: max rel. difference {agreement:.2e}")


@pytest.mark.slow  # 655 s measured on the shared 2-core machine under load (8-device train step)
def test_one_finetuning_epoch_gives_the_same_loss(tiny_root, tmp_path):
  model = RN18
  train = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  valid = pipeline.open_split("synth_birds", "valid", data_root=tiny_root)
  cfg = config_lib.default_train_config()
  cfg.update(dict(batch_size=8, eval_batch_size=8, num_epochs=1, learning_rates=(1e-3,),
                  tensorboard=False, progress_bar=False, async_checkpointing=False,
                  seed=SEED))
  rate = model.input_rate(train.info.sample_rate)
  sample = model.recipe.prepare(np.zeros((1, train.info.num_samples(rate)), np.float32), rate)
  variables = shared_init.torch_init_variables(model, seed=SEED, sample=sample)
  _, jax_result = finetune_lib.finetune(model, train, valid, cfg, str(tmp_path),
                                        variables=variables)
  _, torch_result = torch_finetune.torch_finetune(
      model, train, valid, cfg, backbone=torch_embed.build_backbone(model, seed=SEED),
      log=lambda line: None)
  jax_loss = jax_result.history[0]["loss"]
  torch_loss = torch_result.best.history[0]["loss"]
  assert abs(jax_loss - torch_loss) <= 1e-4 * max(1.0, abs(torch_loss)), (jax_loss, torch_loss)
  # Without the shared head the two trainers start elsewhere: the check above can fail.
  for speed in (jax_result.speed, torch_result.speed):
    assert speed["train_examples_per_s"] > 0 and speed["train_epoch_s"] > 0
  print(f"one epoch, valid loss: JAX {jax_loss:.6f}, PyTorch {torch_loss:.6f}")


def test_torch_cells_without_their_package_are_refused_before_any_cell(monkeypatch):
  # A reference whose package is not installed (the real find_spec lookup, a name that no
  # environment has): resolve_models fails first, naming the cell and the package.
  family = torch_embed.FAMILIES["resnet18"]
  monkeypatch.setattr(torch_embed, "FAMILIES", registry.Registry("architecture", {
      **torch_embed.FAMILIES, "resnet18": torch_embed.TorchFamily(
          family.embed, packages=("torchvision", "no_such_package_for_rn18"))}))
  config = ml_collections.ConfigDict(dict(models=("rn18", "torch:rn18"), model_overrides={},
                                          weights_dir=""))
  with pytest.raises(ModuleNotFoundError, match=r"torch:rn18.*no_such_package_for_rn18"):
    grid.resolve_models(config)
  assert set(grid.resolve_models(ml_collections.ConfigDict(dict(
      models=("rn18",), model_overrides={}, weights_dir="")))) == {"rn18"}
