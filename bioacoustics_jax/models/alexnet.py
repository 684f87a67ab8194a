"""AlexNet in Flax, numerically identical to torchvision's (the paper's `alex`, NHWC input).

torchvision layout, so its checkpoint ports key for key: five convs (11x11/4, 5x5, 3x3 x3) with
ReLU and three 3x3/2 max-pools, AdaptiveAvgPool2d((6, 6)) with torch's bins (any input size),
then Dropout-Linear(9216, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-Linear(4096, classes).
The paper's embedding is the 1000-d output of the full ImageNet net.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import torch_compatible_layers as tl

# (torchvision `features` index, out channels, kernel, stride, padding, max-pool after).
_CONVS = ((0, 64, 11, 4, 2, True), (3, 192, 5, 1, 2, True), (6, 384, 3, 1, 1, False),
          (8, 256, 3, 1, 1, False), (10, 256, 3, 1, 1, True))


class AlexNet(nn.Module):
  """torchvision AlexNet. Input [B, H, W, 3] NHWC; returns (logits, intermediates).

  Dropout (p=0.5, torch's default) is active only with `train=True`, which then needs a
  "dropout" rng.
  """

  num_classes: int = 1000
  dropout: float = 0.5
  hidden: int = 4096
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    tl.require_nhwc(x, 3, "AlexNet", "paper_mel3")
    x = x.astype(self.dtype)
    for index, features, kernel, stride, padding, pool in _CONVS:
      fan_in = x.shape[-1] * kernel * kernel
      x = tl.torch_conv(features, kernel, stride, padding, use_bias=True,
                        name=f"features_{index}", dtype=self.dtype,
                        kernel_init=tl.torch_default_kernel,
                        bias_init=tl.uniform_bias(fan_in))(x)
      x = nn.relu(x)
      if pool:
        x = tl.max_pool(x, 3, 2)
    feature_map = x
    x = tl.flatten_nchw(tl.adaptive_avg_pool(x, 6)).astype(jnp.float32)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = nn.relu(tl.torch_dense(x, self.hidden, "classifier_1"))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    pre_logits = nn.relu(tl.torch_dense(x, self.hidden, "classifier_4"))
    logits = tl.torch_dense(pre_logits, self.num_classes, "classifier_6")
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}
