"""VGG-16 in Flax, numerically identical to torchvision's `vgg16` (no BatchNorm), NHWC input.

torchvision layout: `features` = thirteen 3x3 convs (padding 1) + ReLU with five 2x2/2 max-pools,
AdaptiveAvgPool2d((7, 7)) with torch's bins, `classifier` = Linear(25088, 4096)-ReLU-Dropout-
Linear(4096, 4096)-ReLU-Dropout-Linear(4096, classes). `width` and `hidden` shrink it for tests.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import torch_compatible_layers as tl

# torchvision's configuration "D": channels per conv, "M" = max-pool.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                512, 512, 512, "M", 512, 512, 512, "M")

# torchvision initialises VGG's Linear layers with N(0, 0.01) and zero bias.
_LINEAR_INIT = nn.initializers.normal(0.01)


class VGG(nn.Module):
  """torchvision VGG without BatchNorm. Input [B, H, W, 3]; returns (logits, intermediates).

  Attributes:
    config: channels per conv layer and "M" for max-pools (channels are scaled by width / 64).
    width: channels of the first conv (64 in torchvision); every conv scales with it.
    hidden: size of the two hidden Linear layers (4096 in torchvision).
  """

  config: Sequence[Any] = VGG16_CONFIG
  width: int = 64
  hidden: int = 4096
  num_classes: int = 1000
  dropout: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    tl.require_nhwc(x, 3, "VGG", "paper_mel3")
    x = x.astype(self.dtype)
    index = 0  # torchvision's index in `features`: conv, ReLU (and "M" pools) all count
    for item in self.config:
      if item == "M":
        x = tl.max_pool(x, 2, 2)
        index += 1
        continue
      x = tl.torch_conv(item * self.width // 64, 3, use_bias=True, name=f"features_{index}",
                        dtype=self.dtype)(x)
      x = nn.relu(x)
      index += 2
    feature_map = x
    x = tl.flatten_nchw(tl.adaptive_avg_pool(x, 7)).astype(jnp.float32)
    dense = lambda y, n, name: tl.torch_dense(y, n, name, kernel_init=_LINEAR_INIT,
                                              bias_init=nn.initializers.zeros)
    x = nn.relu(dense(x, self.hidden, "classifier_0"))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = nn.relu(dense(x, self.hidden, "classifier_3"))
    pre_logits = nn.Dropout(self.dropout, deterministic=not train)(x)
    logits = dense(pre_logits, self.num_classes, "classifier_6")
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}
