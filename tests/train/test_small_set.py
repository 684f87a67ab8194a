"""The issue-10 case: a small set (22 train clips, 3 classes, batch 32 = 1 padded step per
epoch, 20 epochs) fine-tuning a random-init tiny ResNet-18 on the paper's mel (paper_mel3).

With torch-style running averages alone the eval-mode network collapses (running variance
0.9**20 against a true input variance near 0); with BN recalibration (the default) eval mode
must agree with train mode on the training clips, beat the majority rate on validation, and
select an epoch after the random init.
"""

from __future__ import annotations

import json

import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import finetune as finetune_lib
from tests.train import small_set


@pytest.mark.slow  # ~1-3 min on 2 shared cores: 20 one-step epochs of a width-8 ResNet-18
def test_small_set_eval_mode_matches_train_mode(tmp_path):
  train, valid, _ = small_set.splits(str(tmp_path / "data"))
  assert (train.num_examples, valid.num_examples) == (22, 11)
  config = config_lib.default_train_config()
  config.update(dict(batch_size=32, eval_batch_size=32, num_epochs=20, learning_rates=(1e-3,),
                     tensorboard=False, progress_bar=False))
  backbone = zoo.resolve("rn18", {"width": 8})
  _, result = finetune_lib.finetune(backbone, train, valid, config, str(tmp_path / "ft"))
  majority = 5 / 11
  acc = result.train_accuracy
  curve = [round(h["accuracy"], 3) for h in result.history]
  assert len(result.history) == 20 and result.final_step == 20  # one step per epoch
  assert acc["eval_mode"] >= 0.9, (acc, curve)
  assert abs(acc["eval_mode"] - acc["train_mode"]) <= 0.05, (acc, curve)
  assert result.best_metric > majority, curve
  assert result.best_epoch > 0, curve
  sweep = json.load(open(tmp_path / "ft" / "sweep.json"))
  assert sweep["train_accuracy"] == acc and sweep["selected_epoch"] == result.best_epoch
  assert len(sweep["runs"][0]["curve"]) == 20
