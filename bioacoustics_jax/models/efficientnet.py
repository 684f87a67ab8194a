"""EfficientNet-B0..B4 in Flax, in torchvision's conventions and in TensorFlow's (NHWC input).

torchvision layout (so its checkpoint ports key for key): a 3x3/2 conv-BN-SiLU stem, seven stages
of MBConv blocks (1x1 expand, depthwise kxk, squeeze-excitation, 1x1 project, residual with
stochastic depth when shapes allow), a 1x1 conv-BN-SiLU head to 1280 channels, global average
pool, Dropout, Linear. BatchNorm is torch's default (eps 1e-5, momentum 0.1) for B0-B4: only
torchvision's B5-B7 and V2 models pass eps=1e-3. B1 (width 1.0, depth 1.1, dropout 0.2) and B3
(1.2, 1.4, 0.3) are B0's table scaled by `width_mult` / `depth_mult`, with torchvision's channel
rounding (multiples of 8) and depth rounding (ceil); the same scaling gives the tiny test nets.

`TFEfficientNet` is the same network in TensorFlow's conventions, without its top: Keras's
`keras.applications.EfficientNetB*(include_top=False)` and chirp's Flax EfficientNet (the Perch
backbones). The blocks are the same modules with `padding="tf"`: a stride-2 convolution pads
TF-'SAME' (the extra row/column at the bottom/right for an even input) where torch pads
symmetrically; BatchNorm takes Keras's epsilon 1e-3 (chirp's Flax default 1e-5) and momentum
0.99; the expansion keeps `in * ratio` channels unrounded and the head has round(1280 * width)
channels (the same numbers as torchvision's for B0/B1/B3). What differs between Keras and
chirp (stem padding, epsilon, activation, SE as Dense) is a field; tests/models/
test_efficientnet_tf.py names each difference.
"""

from __future__ import annotations

import dataclasses
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


ACTIVATIONS = {"silu": nn.silu, "relu": nn.relu}
# How a convolution pads: "torch" symmetric (k - 1) // 2 on each side, "tf" TF-'SAME' (Flax's
# "SAME": asymmetric for stride 2 on an even input), "valid" none (chirp's stem).
PADDINGS = ("torch", "tf", "valid")


@dataclasses.dataclass(frozen=True)
class Norm:
  """BatchNorm settings: torch's (eps 1e-5, momentum 0.1 = Flax 0.9) or Keras's (1e-3, 0.99)."""

  epsilon: float = 1e-5
  momentum: float = 0.9


TORCH_NORM = Norm()
KERAS_NORM = Norm(1e-3, 0.99)
FLAX_NORM = Norm(1e-5, 0.99)  # flax.linen.BatchNorm's defaults, what chirp's EfficientNet uses


def conv(features: int, kernel: int, stride: int = 1, groups: int = 1, use_bias: bool = False,
         padding: str = "torch", name: str | None = None, dtype: Any = jnp.float32) -> nn.Conv:
  """A square convolution padded by `padding` (PADDINGS); torch's init either way."""
  if padding not in PADDINGS:
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
  if padding == "torch":
    return tl.torch_conv(features, kernel, stride, (kernel - 1) // 2, groups=groups,
                         use_bias=use_bias, name=name, dtype=dtype)
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding="SAME" if padding == "tf" else "VALID", feature_group_count=groups,
                 use_bias=use_bias, dtype=dtype, kernel_init=tl.kaiming_normal_fan_out,
                 name=name)


class ConvBNAct(nn.Module):
  """torchvision Conv2dNormActivation: conv (no bias) -> BN -> optional activation."""

  features: int
  kernel: int
  stride: int = 1
  groups: int = 1
  act: str | None = "silu"
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None
  padding: str = "torch"
  norm: Norm = TORCH_NORM

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = conv(self.features, self.kernel, self.stride, self.groups, padding=self.padding,
             name="conv", dtype=self.dtype)(x)
    x = tl.BatchNorm(momentum=self.norm.momentum, epsilon=self.norm.epsilon, dtype=self.dtype,
                     axis_name=self.bn_axis_name, name="bn")(x, train)
    return ACTIVATIONS[self.act](x) if self.act else x


class SqueezeExcitation(nn.Module):
  """Channel gate: x * sigmoid(fc2(act(fc1(mean_hw(x))))), fc1/fc2 as 1x1 convs with bias."""

  squeeze: int
  dtype: Any = jnp.float32
  act: str = "silu"

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    s = jnp.mean(x, axis=(1, 2), keepdims=True)
    s = tl.torch_conv(self.squeeze, 1, use_bias=True, name="fc1", dtype=self.dtype)(s)
    s = tl.torch_conv(x.shape[-1], 1, use_bias=True, name="fc2", dtype=self.dtype)(
        ACTIVATIONS[self.act](s))
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
  padding: str = "torch"  # "tf": TF-'SAME' depthwise padding, unrounded expansion
  norm: Norm = TORCH_NORM
  act: str = "silu"

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    unit = functools.partial(ConvBNAct, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                             padding=self.padding, norm=self.norm, act=self.act)
    in_channels = x.shape[-1]
    expanded = in_channels * self.expand_ratio
    if self.padding == "torch":
      expanded = make_divisible(expanded)
    y, index = x, 0
    if expanded != in_channels:
      y = unit(expanded, 1, name="block_0")(y, train)
      index = 1
    y = unit(expanded, self.kernel, self.stride, groups=expanded, name=f"block_{index}")(y, train)
    y = SqueezeExcitation(max(1, in_channels // 4), self.dtype, self.act,
                          name=f"block_{index + 1}")(y)
    y = unit(self.out_channels, 1, act=None, name=f"block_{index + 2}")(y, train)
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


def _scaled_stages(width_mult: float, depth_mult: float):
  """B0's table scaled: (expand, kernel, stride, in, out, layers) with the shared rounding."""
  return [(e, k, s, make_divisible(i * width_mult), make_divisible(o * width_mult),
           int(math.ceil(n * depth_mult))) for e, k, s, i, o, n in B0_STAGES]


def _body(module: nn.Module, x: jnp.ndarray, train: bool, stages, **block) -> jnp.ndarray:
  """The seven stages of MBConv blocks, `features_1_0` ... (stochastic depth linear in the
  block index, as torchvision and Keras), each block built with `block` (padding, norm, act)."""
  total_blocks = sum(stage[-1] for stage in stages)
  block_id = 0
  for stage_index, (expand, kernel, stride, _, out, layers) in enumerate(stages, start=1):
    for j in range(layers):
      x = MBConv(expand, kernel, stride if j == 0 else 1, out,
                 module.stochastic_depth_prob * block_id / total_blocks, module.dtype,
                 module.bn_axis_name, name=f"features_{stage_index}_{j}", **block)(x, train)
      block_id += 1
  return x


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
    unit = functools.partial(ConvBNAct, dtype=self.dtype, bn_axis_name=self.bn_axis_name)
    stages = _scaled_stages(self.width_mult, self.depth_mult)
    x = unit(stages[0][3], 3, 2, name="features_0")(x.astype(self.dtype), train)
    x = _body(self, x, train, stages)
    x = unit(4 * stages[-1][4], 1, name=f"features_{len(stages) + 1}")(x, train)
    feature_map = x
    pre_logits = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    y = nn.Dropout(self.dropout, deterministic=not train)(pre_logits)
    # torchvision: U(-1/sqrt(out), 1/sqrt(out)) weights, zero bias.
    logits = tl.torch_dense(y, self.num_classes, "classifier_1",
                            kernel_init=nn.initializers.variance_scaling(
                                1.0 / 3.0, "fan_out", "uniform"),
                            bias_init=nn.initializers.zeros)
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}


class TFEfficientNet(nn.Module):
  """EfficientNet without its top in TensorFlow's conventions (Keras applications, chirp).

  Input [B, H, W, in_channels] (the Perch recipes give [B, time, mel, 1]) or, for clips cut
  into windows, [B, windows, H, W, in_channels]: each window is embedded and the window
  embeddings averaged. Returns (embedding, intermediates): the head's feature map mean-pooled
  over H and W, round(1280 * width_mult)-d (B1 1280, B3 1536).

  Attributes:
    width_mult / depth_mult: the scaling (B1 1.0 / 1.1, B3 1.2 / 1.4).
    stem_padding: "tf" (Keras: ZeroPadding2D(correct_pad) + 'valid', i.e. TF-'SAME') or
      "valid" (chirp's Stem: no padding, one row/column fewer for even inputs).
    epsilon: BatchNorm epsilon, Keras 1e-3, chirp (flax.linen.BatchNorm's default) 1e-5;
      momentum 0.99 for both.
    block_act: the MBConv blocks' and their squeeze-excitation's activation: "silu" (Keras,
      chirp until 2024-02), "relu" (chirp's "default" op set since 2024-02); stem and head
      always use swish (SiLU).
    stochastic_depth_prob: as EfficientNet's (train mode only).
  """

  width_mult: float = 1.2
  depth_mult: float = 1.4
  in_channels: int = 1
  stem_padding: str = "tf"
  epsilon: float = 1e-3
  block_act: str = "silu"
  stochastic_depth_prob: float = 0.2
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    windows = None
    if x.ndim == 5:  # [B, windows, H, W, C]: one batch of all windows
      windows = x.shape[1]
      x = x.reshape((-1,) + x.shape[2:])
    tl.require_nhwc(x, self.in_channels, "TFEfficientNet", "perch_logmel")
    norm = Norm(self.epsilon, 0.99)
    unit = functools.partial(ConvBNAct, dtype=self.dtype, bn_axis_name=self.bn_axis_name,
                             norm=norm)
    stages = _scaled_stages(self.width_mult, self.depth_mult)
    x = unit(stages[0][3], 3, 2, padding=self.stem_padding, name="features_0")(
        x.astype(self.dtype), train)
    x = _body(self, x, train, stages, padding="tf", norm=norm, act=self.block_act)
    x = unit(make_divisible(1280 * self.width_mult), 1, padding="tf",
             name=f"features_{len(stages) + 1}")(x, train)
    embedding = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    if windows is not None:
      embedding = jnp.mean(embedding.reshape(-1, windows, embedding.shape[-1]), axis=1)
    return embedding, {"feature_map": x, "pre_logits": embedding, "embedding": embedding}
