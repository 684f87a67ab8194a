"""Tiny stand-ins shared by the train/parallel tests: a BatchNorm CNN, a frontend, random data."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.models import initialize
from bioacoustics_jax.models import torch_compatible_layers as tl
from bioacoustics_jax.models.classifier import Classifier


class TinyCNN(nn.Module):
  """conv -> BatchNorm -> relu -> mean pool -> Dense embedding (has params AND batch_stats)."""

  width: int = 4
  embedding_dim: int = 8
  bn_axis_name: str | None = None
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(self.width, (3, 3), dtype=self.dtype, name="conv")(x)
    # The suite's BatchNorm (the ResNets'), so the tests see its row mask and recalibration.
    x = tl.BatchNorm(momentum=0.5, axis_name=self.bn_axis_name, dtype=self.dtype,
                     name="bn")(x, train)
    x = nn.relu(x)
    pooled = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    embedding = nn.Dense(self.embedding_dim, name="fc")(pooled)
    return embedding, {"embedding": embedding, "pre_logits": pooled}


def prepare(audio, sample_rate, axis_name=None):
  """[B, T] -> [B, 8, T/8, 1] 'spectrogram', divided by the BATCH maximum like the paper's
  CNN recipe, so data-parallel tests also check that the frontend sees the global batch."""
  del sample_rate
  frames = jnp.log1p(jnp.abs(audio.reshape(audio.shape[0], 8, -1)))
  return (frames / jnp.maximum(recipes.batch_max(frames, axis_name), 1e-6))[..., None] * 4.0


def classifier(num_classes: int = 3, bn_axis_name: str | None = "data") -> Classifier:
  return Classifier(TinyCNN(bn_axis_name=bn_axis_name), num_classes)


def init_variables(module, num_samples: int = 64, seed: int = 0):
  return initialize.init(module, jax.random.key(seed), prepare(jnp.zeros((1, num_samples)), 0),
                         train=False)


def random_batch(batch: int, num_samples: int = 64, num_classes: int = 3, seed: int = 0,
                 padded: int = 0, task: str = "classification") -> dict:
  """Class-dependent tones + noise, so a model can learn; the last `padded` rows masked out."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, batch)
  t = np.arange(num_samples)
  audio = np.sin(2 * np.pi * (labels[:, None] + 1) * 3 * t / num_samples) * (labels[:, None] + 1)
  audio = (audio + 0.3 * rng.normal(size=audio.shape)).astype(np.float32)
  mask = np.arange(batch) < batch - padded
  if task == "detection":
    multi_hot = np.eye(num_classes, dtype=np.float32)[labels]
    multi_hot[rng.random(batch) < 0.3] = 0.0  # some background rows
    return {"audio": audio, "label": multi_hot, "mask": mask}
  return {"audio": audio, "label": labels.astype(np.int32), "mask": mask}


def dataset(n: int, num_samples: int = 64, num_classes: int = 3, seed: int = 0,
            task: str = "classification") -> dict:
  return random_batch(n, num_samples, num_classes, seed, task=task)


def make_task(batch_size: int = 16, n_train: int = 64, n_valid: int = 32, task="classification",
              seed: int = 0, delay: float = 0.0, nan_at_batch: int | None = None, module=None):
  """A TrainTask over in-memory data; each epoch's order is a permutation seeded by the epoch.

  `delay` sleeps per batch (lets a test kill a child mid-run); `nan_at_batch` poisons one
  batch of epoch 0 with NaN audio (NaN-guard test).
  """
  import time  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import loop  # pylint: disable=g-import-not-at-top

  module = module or classifier()
  train = dataset(n_train, task=task, seed=seed)
  valid = dataset(n_valid, task=task, seed=seed + 1)
  spe = n_train // batch_size

  def train_batches(epoch):
    order = np.random.default_rng([seed, epoch]).permutation(n_train)
    for i in range(spe):
      idx = order[i * batch_size:(i + 1) * batch_size]
      batch = {k: v[idx] for k, v in train.items()}
      if nan_at_batch is not None and epoch == 0 and i == nan_at_batch:
        batch["audio"] = np.full_like(batch["audio"], np.nan)
      if delay:
        time.sleep(delay)
      yield batch

  def valid_batches():
    for i in range(0, n_valid, batch_size):
      yield {k: v[i:i + batch_size] for k, v in valid.items()}

  return loop.TrainTask(module=module, prepare=prepare, sample_rate=0, task=task, num_classes=3,
                        variables=init_variables(module), train_batches=train_batches,
                        steps_per_epoch=spe, valid_batches=valid_batches)


def small_config(**overrides):
  from bioacoustics_jax.train import config as config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.default_train_config()
  config.update(dict(batch_size=16, num_epochs=3, learning_rates=(), learning_rate=1e-2,
                     tensorboard=False, progress_bar=False, log_every_steps=1,
                     async_checkpointing=False, checkpoint_min_interval_seconds=0.0))
  config.update(overrides)
  return config
