"""The first convolution of an image backbone, folded when its input channels are identical.

The paper's input repeats one mel image into the 3 channels an ImageNet CNN takes (recipe
paper_mel3). A convolution is linear in its input channels, so on 3 identical channels x it
equals the convolution of x once with the kernel summed over the channels:
conv([x, x, x], W) = conv(x, W[:, :, 0] + W[:, :, 1] + W[:, :, 2]). `StemConv` keeps the
3-channel kernel as its parameter (ported weights and checkpoints are unchanged) and computes
that folded form whenever it is given 1 channel where it expects `in_channels`: a third of the
stem's work, and, by the chain rule through the sum, the same gradient for each channel's kernel
as the unfolded network (tests/models/test_stem.py). Given `in_channels` channels it is a
plain convolution. audio/recipes/channels.py says which recipes repeat a channel.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


class StemConv(nn.Module):
  """nn.Conv(features, (kernel, kernel), strides, symmetric padding, no bias) whose kernel is
  [kernel, kernel, in_channels, features] whatever the input; a 1-channel input stands for
  `in_channels` identical channels. Same parameter name ("kernel"), shape and init as nn.Conv."""

  features: int
  kernel: int
  stride: int = 1
  padding: int = 0
  in_channels: int = 3
  dtype: Any = jnp.float32
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kernel = self.param("kernel", self.kernel_init,
                        (self.kernel, self.kernel, self.in_channels, self.features), jnp.float32)
    if x.shape[-1] == 1 and self.in_channels > 1:
      kernel = jnp.sum(kernel, axis=2, keepdims=True)  # the identical channels, folded
    elif x.shape[-1] != self.in_channels:
      raise ValueError(f"{self.name}: input has {x.shape[-1]} channels; expected "
                       f"{self.in_channels} (or 1 standing for {self.in_channels} identical ones)")
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    pad = (self.padding, self.padding)
    return jax.lax.conv_general_dilated(
        x, kernel, (self.stride, self.stride), (pad, pad),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
