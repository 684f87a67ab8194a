"""A backbone plus a fresh linear head on its embedding: the fine-tuning model of the paper."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np


class Classifier(nn.Module):
  """`logits = Dense(num_classes)(backbone(x)[1][embedding])`.

  The backbone's own output (e.g. torchvision's 1000-way ImageNet layer) is kept, as in the
  paper; the head is new, so a checkpoint with any number of classes can be reused: its
  `backbone` subtree is loaded and the `head` is initialised fresh.
  """

  backbone: nn.Module
  num_classes: int
  embedding: str = "embedding"

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    _, intermediates = self.backbone(x, train=train)
    features = intermediates[self.embedding]
    logits = nn.Dense(self.num_classes, name="head")(features.astype(jnp.float32))
    return logits, intermediates


def head_init(seed: int, embedding_dim: int, num_classes: int) -> dict[str, np.ndarray]:
  """The fresh head's starting weights, {"kernel" [D, C], "bias" [C]} (float32), drawn from
  PyTorch nn.Linear's default distribution (U(-1/sqrt(D), 1/sqrt(D)) for both; what BEANS'
  trainer starts from) with numpy seeded by `seed`. Both trainers (train/finetune.py and
  baselines/torch_finetune.py) take their head from here, so they start from the same one."""
  rng = np.random.default_rng([int(seed), 0x4EAD])
  bound = 1.0 / np.sqrt(embedding_dim)
  kernel = rng.uniform(-bound, bound, (embedding_dim, num_classes)).astype(np.float32)
  bias = rng.uniform(-bound, bound, (num_classes,)).astype(np.float32)
  return {"kernel": kernel, "bias": bias}
