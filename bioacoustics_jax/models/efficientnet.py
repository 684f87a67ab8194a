"""EfficientNet-B0..B4 in Flax, numerically identical to torchvision's (NHWC input).

torchvision layout (so its checkpoint ports key for key): a 3x3/2 conv-BN-SiLU stem, seven stages
of MBConv blocks (1x1 expand, depthwise kxk, squeeze-excitation, 1x1 project, residual with
stochastic depth when shapes allow), a 1x1 conv-BN-SiLU head to 1280 channels, global average
pool, Dropout, Linear. BatchNorm is torch's default (eps 1e-5, momentum 0.1) for B0-B4: only
torchvision's B5-B7 and V2 models pass eps=1e-3. B1 (width 1.0, depth 1.1, dropout 0.2) and B3
(1.2, 1.4, 0.3) are B0's table scaled by `width_mult` / `depth_mult`, with torchvision's channel
rounding (multiples of 8) and depth rounding (ceil); the same scaling gives the tiny test nets.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from bioacoustics_jax.models import torch_compatible_layers as tl

# (expand ratio, kernel, stride, in channels, out channels, layers): torchvision's B0 table.
B0_STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
             (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
             (6, 3, 1, 192, 320, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
  """torchvision's channel rounding: nearest multiple of `divisor`, never 10% below `value`."""
  rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNAct(nn.Module):
  """torchvision Conv2dNormActivation: conv (no bias) -> BN -> optional SiLU ("0", "1")."""

  features: int
  kernel: int
  stride: int = 1
  groups: int = 1
  act: bool = True
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = tl.torch_conv(self.features, self.kernel, self.stride, (self.kernel - 1) // 2,
                      groups=self.groups, name="conv", dtype=self.dtype)(x)
    x = tl.BatchNorm(dtype=self.dtype, axis_name=self.bn_axis_name, name="bn")(x, train)
    return nn.silu(x) if self.act else x


class SqueezeExcitation(nn.Module):
  """Channel gate: x * sigmoid(fc2(silu(fc1(mean_hw(x))))), fc1/fc2 as 1x1 convs with bias."""

  squeeze: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    s = jnp.mean(x, axis=(1, 2), keepdims=True)
    s = nn.silu(tl.torch_conv(self.squeeze, 1, use_bias=True, name="fc1", dtype=self.dtype)(s))
    s = tl.torch_conv(x.shape[-1], 1, use_bias=True, name="fc2", dtype=self.dtype)(s)
    return x * nn.sigmoid(s)


class MBConv(nn.Module):
  """Inverted residual block; `block_i` names follow torchvision's `block` Sequential."""

  expand_ratio: int
  kernel: int
  stride: int
  out_channels: int
  drop_prob: float = 0.0
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    conv = functools.partial(ConvBNAct, dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    in_channels = x.shape[-1]
    expanded = make_divisible(in_channels * self.expand_ratio)
    y, index = x, 0
    if expanded != in_channels:
      y = conv(expanded, 1, name="block_0")(y, train)
      index = 1
    y = conv(expanded, self.kernel, self.stride, groups=expanded, name=f"block_{index}")(y, train)
    y = SqueezeExcitation(max(1, in_channels // 4), self.dtype, name=f"block_{index + 1}")(y)
    y = conv(self.out_channels, 1, act=False, name=f"block_{index + 2}")(y, train)
    if self.stride == 1 and in_channels == self.out_channels:
      y = _stochastic_depth(self, y, train) + x
    return y


def _stochastic_depth(module: nn.Module, y: jnp.ndarray, train: bool) -> jnp.ndarray:
  """torchvision StochasticDepth(mode="row"): drop whole samples' residual branch in training."""
  if not train or module.drop_prob == 0.0:
    return y  # identity in eval, as torch
  keep = 1.0 - module.drop_prob
  mask = jax.random.bernoulli(module.make_rng("dropout"), keep, (y.shape[0], 1, 1, 1))
  return y * mask.astype(y.dtype) / keep


class EfficientNet(nn.Module):
  """torchvision EfficientNet (V1). Input [B, H, W, 3]; returns (logits, intermediates).

  Attributes:
    width_mult / depth_mult: torchvision's scaling (B0 1.0 / 1.0, B1 1.0 / 1.1, B3 1.2 / 1.4).
    stochastic_depth_prob: final block's drop probability; block i gets p * i / n_blocks.
    dropout: before the classifier (B0, B1 0.2; B3 0.3).
  """

  width_mult: float = 1.0
  depth_mult: float = 1.0
  num_classes: int = 1000
  dropout: float = 0.2
  stochastic_depth_prob: float = 0.2
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    tl.require_nhwc(x, 3, "EfficientNet", "paper_mel3")
    conv = functools.partial(ConvBNAct, dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    stages = [(e, k, s, make_divisible(i * self.width_mult), make_divisible(o * self.width_mult),
               int(math.ceil(n * self.depth_mult))) for e, k, s, i, o, n in B0_STAGES]
    total_blocks = sum(stage[-1] for stage in stages)
    x = conv(stages[0][3], 3, 2, name="features_0")(x.astype(self.dtype), train)
    block_id = 0
    for stage_index, (expand, kernel, stride, _, out, layers) in enumerate(stages, start=1):
      for j in range(layers):
        x = MBConv(expand, kernel, stride if j == 0 else 1, out,
                   self.stochastic_depth_prob * block_id / total_blocks, self.dtype,
                   self.bn_axis_name, name=f"features_{stage_index}_{j}")(x, train)
        block_id += 1
    x = conv(4 * stages[-1][4], 1, name=f"features_{len(stages) + 1}")(x, train)
    feature_map = x
    pre_logits = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    y = nn.Dropout(self.dropout, deterministic=not train)(pre_logits)
    # torchvision: U(-1/sqrt(out), 1/sqrt(out)) weights, zero bias.
    logits = tl.torch_dense(y, self.num_classes, "classifier_1",
                            kernel_init=nn.initializers.variance_scaling(
                                1.0 / 3.0, "fan_out", "uniform"),
                            bias_init=nn.initializers.zeros)
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}
