"""ResNet-18/34/50/101/152 in Flax, numerically identical to torchvision's (NHWC input).

Same layout as torchvision so its weights port one to one (porting/resnet.py):
7x7/2 stem conv + BN + ReLU + 3x3/2 max-pool (padding 1), four stages of BasicBlock or
Bottleneck (stride on the Bottleneck's 3x3 conv: "ResNet v1.5"), 1x1 projection shortcut when the
shape changes, global average pool, Linear to `num_classes`. The paper uses the 1000-d output of
the full ImageNet net as the embedding, so `intermediates["embedding"]` is the fc output and
`intermediates["pre_logits"]` the pooled features. `width` shrinks every stage for tiny tests.
The stem takes the 3 channels or, for the paper's input whose 3 channels are one mel image
repeated, that image once (models/stem.py: the same values and gradients, a third of the work).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import stem
from bioacoustics_jax.models import torch_compatible_layers as tl


class _ResidualBlock(nn.Module):
  """Fields shared by both torchvision block types; subclasses define the conv stack."""

  planes: int
  stride: int = 1
  project: bool = False
  zero_init_residual: bool = False
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None


class BasicBlock(_ResidualBlock):
  """Two 3x3 convs (ResNet-18/34); stride on the first."""

  expansion = 1

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    bn = functools.partial(tl.BatchNorm, dtype=self.dtype, axis_name=self.bn_axis_name)
    y = tl.torch_conv(self.planes, 3, self.stride, name="conv1", dtype=self.dtype)(x)
    y = nn.relu(bn(name="bn1")(y, train))
    y = tl.torch_conv(self.planes, 3, name="conv2", dtype=self.dtype)(y)
    y = _last_bn(self, bn, "bn2")(y, train)
    return nn.relu(y + _shortcut(self, bn, x, train))


class Bottleneck(_ResidualBlock):
  """1x1 reduce, 3x3 (strided, v1.5), 1x1 expand x4 (ResNet-50/101/152)."""

  expansion = 4

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    bn = functools.partial(tl.BatchNorm, dtype=self.dtype, axis_name=self.bn_axis_name)
    y = tl.torch_conv(self.planes, 1, name="conv1", dtype=self.dtype)(x)
    y = nn.relu(bn(name="bn1")(y, train))
    y = tl.torch_conv(self.planes, 3, self.stride, name="conv2", dtype=self.dtype)(y)
    y = nn.relu(bn(name="bn2")(y, train))
    y = tl.torch_conv(self.planes * 4, 1, name="conv3", dtype=self.dtype)(y)
    y = _last_bn(self, bn, "bn3")(y, train)
    return nn.relu(y + _shortcut(self, bn, x, train))


def _last_bn(block: nn.Module, bn, name: str) -> nn.Module:
  # torchvision's zero_init_residual starts each block as the identity; off by default there.
  if block.zero_init_residual:
    return bn(name=name, scale_init=nn.initializers.zeros)
  return bn(name=name)


def _shortcut(block: nn.Module, bn, x: jnp.ndarray, train: bool) -> jnp.ndarray:
  if not block.project:
    return x
  y = tl.torch_conv(block.planes * block.expansion, 1, block.stride, padding=0,
                    name="downsample_conv", dtype=block.dtype)(x)
  return bn(name="downsample_bn")(y, train)


class ResNet(nn.Module):
  """torchvision ResNet. Input [B, H, W, 3] NHWC, or [B, H, W, 1] standing for 3 identical
  channels (folded stem); returns (logits, intermediates).

  Attributes:
    stage_sizes: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
    block: "basic" or "bottleneck".
    width: channels of the stem and first stage (torchvision: 64); stage i has width * 2**i.
    num_classes: size of the final Linear (1000 for ImageNet checkpoints).
    dtype: compute dtype (parameters and BN statistics stay float32).
    bn_axis_name: mapped axis to average BN batch statistics over in data-parallel training.
  """

  stage_sizes: Sequence[int]
  block: str = "basic"
  width: int = 64
  num_classes: int = 1000
  zero_init_residual: bool = False
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    # The paper repeats the 1-channel mel to 3 channels (recipe "paper_mel3"); 1 channel is
    # that mel once, for the folded stem.
    tl.require_nhwc(x, 1 if x.shape[-1:] == (1,) else 3, "ResNet", "paper_mel3")
    block_cls = {"basic": BasicBlock, "bottleneck": Bottleneck}[self.block]
    x = x.astype(self.dtype)
    x = stem.StemConv(self.width, 7, 2, padding=3, in_channels=3, dtype=self.dtype,
                      kernel_init=tl.kaiming_normal_fan_out, name="conv1")(x)
    x = tl.BatchNorm(dtype=self.dtype, axis_name=self.bn_axis_name, name="bn1")(x, train)
    x = tl.max_pool(nn.relu(x), 3, 2, padding=1)
    channels = self.width
    for i, num_blocks in enumerate(self.stage_sizes):
      planes = self.width * 2**i
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        project = j == 0 and (stride != 1 or channels != planes * block_cls.expansion)
        x = block_cls(planes, stride, project, self.zero_init_residual, self.dtype,
                      self.bn_axis_name, name=f"layer{i + 1}_{j}")(x, train)
        channels = planes * block_cls.expansion
    feature_map = x
    pre_logits = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    logits = tl.torch_dense(pre_logits, self.num_classes, "fc")
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}


_ARCHS = {
    "resnet18": ((2, 2, 2, 2), "basic"),
    "resnet34": ((3, 4, 6, 3), "basic"),
    "resnet50": ((3, 4, 6, 3), "bottleneck"),
    "resnet101": ((3, 4, 23, 3), "bottleneck"),
    "resnet152": ((3, 8, 36, 3), "bottleneck"),
}


def build(arch: str, **overrides) -> ResNet:
  stage_sizes, block = _ARCHS[arch]
  return ResNet(stage_sizes=stage_sizes, block=block, **overrides)
