"""Fine-tuning a tiny ResNet-18 on the synthetic birds set: accuracy well above chance, better
k-means NMI than the frozen random-init backbone, and an lr sweep that picks its best run."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from bioacoustics_jax import zoo
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import finetune as finetune_lib

OVERRIDES = {"width": 4}


def _splits(root):
  size = synthetic.SuiteSize(clips_per_class=(6, 3, 3), clip_scale=0.5)
  synthetic.write_suite(str(root), size=size, names=["synth_birds"])
  return [pipeline.open_split("synth_birds", s, data_root=str(root))
          for s in ("train", "valid", "test")]


def _nmi(variables, split, seed=42):
  backbone = zoo.resolve("rn18", OVERRIDES)
  recipe, module = backbone.recipe, backbone.module
  rate = split.info.sample_rate
  feats, labels = [], []
  for batch in split.numpy_batches(batch_size=8, sample_rate=rate):
    _, inter = module.apply(variables, recipe.prepare(jnp.asarray(batch["audio"]), rate))
    feats.append(np.asarray(inter["embedding"])[batch["mask"]])
    labels.append(batch["label"][batch["mask"]])
  feats, labels = np.concatenate(feats), np.concatenate(labels)
  clusters = KMeans(split.info.num_classes, random_state=seed, n_init=10).fit_predict(feats)
  return normalized_mutual_info_score(labels, clusters)


@pytest.mark.slow  # ~1-2 min on 2 shared cores: two lrs x 8 epochs of a (tiny) ResNet-18
def test_finetune_beats_chance_and_frozen_clustering(tmp_path):
  train, valid, test = _splits(tmp_path / "data")
  config = config_lib.default_train_config()
  # batch 8 gives 6 steps/epoch on 48 clips: BatchNorm's running statistics (torch momentum
  # 0.1) need a few dozen steps before inference-mode validation means anything.
  config.update(dict(batch_size=8, eval_batch_size=8, num_epochs=8,
                     learning_rates=(3e-4, 3e-3), tensorboard=False, progress_bar=False))
  backbone = zoo.resolve("rn18", OVERRIDES)
  variables, result = finetune_lib.finetune(backbone, train, valid, config, str(tmp_path / "ft"))
  chance = 1.0 / train.info.num_classes
  assert result.metric == "accuracy"
  assert result.best_metric >= 3 * chance, result.history
  sweep = json.load(open(tmp_path / "ft" / "sweep.json"))
  assert [r["learning_rate"] for r in sweep["runs"]] == [3e-4, 3e-3]
  assert sweep["selected_learning_rate"] == result.learning_rate
  assert result.best_metric == max(r["best"] for r in sweep["runs"])
  assert os.path.isdir(result.best_checkpoint)

  sample = backbone.recipe.prepare(
      jnp.zeros((1, train.info.num_samples())), train.info.sample_rate)
  frozen = backbone.init_variables(jax.random.key(config.seed), sample)
  nmi_frozen, nmi_tuned = _nmi(frozen, test), _nmi(variables, test)
  print(f"accuracy {result.best_metric:.3f} (chance {chance:.3f}); NMI frozen {nmi_frozen:.3f} "
        f"-> fine-tuned {nmi_tuned:.3f}")
  assert nmi_tuned > nmi_frozen + 0.05
