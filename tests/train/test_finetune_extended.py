"""The extended zoo's new backbones fine-tune through the real loop (tiny widths, one epoch):
cross-replica BatchNorm where the preset says batch_norm, the original's train-mode
regularisation from train_kwargs (stochastic depth, dropout), checkpoints, a finite loss, and
the backbone's weights move."""

import math

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import finetune as finetune_lib

TINY = {
    "efficientnet_b3": {"width_mult": 0.25, "depth_mult": 0.3, "num_classes": 8},
    "convnext_tiny": {"dims": (8, 16), "depths": (1, 1), "num_classes": 8},
    "vit_b_16": {"patch_size": 56, "num_layers": 1, "num_heads": 2, "hidden_dim": 16,
                 "mlp_dim": 32, "num_classes": 8},
    "cnn14_random": {"width": 4},
}


@pytest.mark.slow  # one epoch of each of four models, compile-dominated: ~1-3 min on 2 cores
@pytest.mark.parametrize("name", sorted(TINY))
def test_one_epoch_of_finetuning(tmp_path, name):
  synthetic.write_suite(str(tmp_path / "data"),
                        size=synthetic.SuiteSize(clips_per_class=(2, 1, 1), clip_scale=0.5),
                        names=["synth_birds"])
  train, valid = (pipeline.open_split("synth_birds", s, data_root=str(tmp_path / "data"))
                  for s in ("train", "valid"))
  config = config_lib.default_train_config()
  config.update(dict(batch_size=8, eval_batch_size=8, num_epochs=1, learning_rates=(1e-3,),
                     tensorboard=False, progress_bar=False))
  backbone = zoo.resolve(name, TINY[name])
  variables, result = finetune_lib.finetune(backbone, train, valid, config, str(tmp_path / "ft"))
  assert all(math.isfinite(v) for row in result.history for v in row.values()
             if isinstance(v, float)), result.history
  rate = backbone.input_rate(train.info.sample_rate)
  start = backbone.init_variables(jax.random.key(config.seed),
                                  backbone.sample_input(rate, train.info.num_samples(rate)))
  moved = jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
                       start["params"], variables["params"])
  assert max(jax.tree.leaves(moved)) > 0.0
