"""A backbone plus a fresh linear head on its embedding: the fine-tuning model of the paper."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


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
