"""The BEANS fine-tuning protocol in PyTorch: it learns, selects epochs and learning rates on
validation, trains detection with BCE, and keeps frozen prefixes frozen."""

import copy

import pytest
import torch

from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.baselines import torch_finetune
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import synthetic
from bioacoustics_jax import zoo
from bioacoustics_jax.train import config as config_lib

# A tiny HuBERT whose strided encoder downsamples 80x (the real one: 320x), so the 2 s windows
# become 400 frames and self-attention stays cheap.
HUBERT_TINY = dict(conv_layers=((16, 10, 5), (16, 4, 4), (16, 4, 4)), embed_dim=32,
                   num_layers=2, num_heads=4, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)


def _config(**overrides):
  config = config_lib.default_train_config()
  config.update(dict(batch_size=8, eval_batch_size=8, num_epochs=8, learning_rates=(3e-3,)))
  config.update(overrides)
  return config


def test_finetune_beats_chance_on_synthetic_birds(tmp_path):
  # The "tiny" suite has 3 training clips per class (3 steps per epoch at batch 8); BatchNorm's
  # running statistics (momentum 0.1) need ~40 steps before eval-mode predictions follow the
  # training ones, so this uses 6 clips per class, at half tiny's clip length to stay fast.
  size = synthetic.SuiteSize(clips_per_class=(6, 2, 2), clip_scale=0.25)
  synthetic.write_suite(str(tmp_path), size=size, names=["synth_birds"])
  train = pipeline.open_split("synth_birds", "train", data_root=str(tmp_path))
  valid = pipeline.open_split("synth_birds", "valid", data_root=str(tmp_path))
  chance = 1.0 / train.info.num_classes
  lines = []
  backbone, result = torch_finetune.torch_finetune(
      zoo.resolve("rn18", dict(width=8)), train, valid, _config(), log=lines.append)
  history = result.best.history
  assert len(history) == 8 and len(lines) == 8 and result.best.metric == "accuracy"
  assert history[-1]["train_accuracy"] >= 3 * chance, history
  assert result.best.best_metric >= 3 * chance, history
  assert result.best.best_metric == max(h["accuracy"] for h in history)
  assert history[result.best.best_epoch]["accuracy"] == result.best.best_metric
  assert not backbone.training
  untouched = torch_embed.build_backbone(zoo.resolve("rn18", dict(width=8)), seed=42)
  assert not torch.equal(backbone.reference.conv1.weight, untouched.reference.conv1.weight)
  print(f"torch fine-tune: valid accuracy {result.best.best_metric:.3f} at epoch "
        f"{result.best.best_epoch} (chance {chance:.3f}), {result.best.seconds:.1f} s")


def test_detection_bce_lr_selection_and_frozen_encoder(tiny_root):
  train = pipeline.open_split("synth_frogs_detection", "train", data_root=tiny_root)
  valid = pipeline.open_split("synth_frogs_detection", "valid", data_root=tiny_root)
  aves = zoo.resolve("aves", HUBERT_TINY)
  start = torch_embed.TorchBackbone(aves, aves.torch_reference())
  before = copy.deepcopy(start.reference.state_dict())
  backbone, result = torch_finetune.torch_finetune(
      aves, train, valid, _config(batch_size=4, num_epochs=1, max_steps_per_epoch=2,
                                    learning_rates=(1e-3, 1e-6)),
      backbone=start, log=lambda line: None)
  assert [r.learning_rate for r in result.runs] == [1e-3, 1e-6]
  assert all(r.metric == "map" and "map" in r.history[0] for r in result.runs)
  assert result.best.best_metric == max(r.best_metric for r in result.runs)
  after = backbone.reference.state_dict()
  # the preset's frozen_prefixes = ("feature_extractor",): the CNN encoder stays as it was (BEANS/AVES).
  for key, value in before.items():
    changed = not torch.equal(after[key], value)
    if key.startswith("feature_extractor."):
      assert not changed, key
  assert not torch.equal(after["encoder.feature_projection.projection.weight"],
                         before["encoder.feature_projection.projection.weight"])
  assert torch.equal(start.reference.state_dict()["encoder.feature_projection.projection.weight"],
                     before["encoder.feature_projection.projection.weight"])  # input not mutated


def test_unknown_freeze_prefix_names_the_modules(tiny_root):
  train = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  with pytest.raises(ValueError, match=r"'nope'.*layer1"):
    torch_finetune.torch_finetune(zoo.resolve("rn18", dict(width=4)), train, None,
                                  _config(freeze_prefixes=("nope",)))
