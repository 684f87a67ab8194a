"""ConvNeXt in Flax, numerically identical to torchvision's `convnext_tiny` (NHWC input).

torchvision layout, so its ImageNet checkpoint ports key for key (porting/convnext.py): a 4x4/4
patchify conv with bias + LayerNorm2d (`features.0`), four stages of CNBlocks (7x7 depthwise conv
with bias, LayerNorm eps 1e-6 over channels, Linear to 4C, exact GELU, Linear back, times a
per-channel `layer_scale` of shape [C, 1, 1], stochastic depth, residual) separated by a
LayerNorm2d + 2x2/2 conv downsampling, then global average pool, LayerNorm2d, Linear
(`classifier.0` / `classifier.2`).

NHWC makes torchvision's two Permutes and LayerNorm2d's permute-normalise-permute plain
last-axis LayerNorms. `layer_scale` keeps torch's [C, 1, 1] shape, so the porter copies it
unchanged and the strict shape check stays meaningful. Spectrograms of any size work: the convs
use torch's floor arithmetic (VALID), and the pool averages whatever map is left.

As for the paper's other ImageNet models, the embedding is the 1000-d ImageNet output;
`pre_logits` is the pooled, normalised 768-d feature vector.

transformers' ConvNext (BirdSet's checkpoints) is the same network: `convnext_base_birdset` is
ConvNeXt-Base on a 1-channel dB mel (`in_channels`), whose final pooled LayerNorm has
transformers' `layer_norm_eps` 1e-12 (`head_eps`; every other norm keeps 1e-6), with the
pooled, normalised 1024-d vector as embedding (`embedding="pooled"`: its 9736 bird-species
logits are the classifier's, not a representation). porting/convnext.py maps its keys.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib
from bioacoustics_jax.models import torch_compatible_layers as tl

_LN_EPS = 1e-6  # torchvision: partial(LayerNorm2d, eps=1e-6) and partial(nn.LayerNorm, eps=1e-6)


def _conv(features: int, kernel: int, stride: int, padding: int, name: str, dtype: Any,
          groups: int = 1) -> nn.Conv:
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((padding, padding), (padding, padding)), feature_group_count=groups,
                 use_bias=True, dtype=dtype, kernel_init=attn_lib.default_kernel_init,
                 name=name)


class CNBlock(nn.Module):
  """x + drop_path(layer_scale * pwconv2(gelu(pwconv1(norm(dwconv(x)))))); torch's `block.i`."""

  stochastic_depth_prob: float = 0.0
  layer_scale_init: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    c = x.shape[-1]
    y = _conv(c, 7, 1, 3, "block_0", self.dtype, groups=c)(x)
    y = attn_lib.layer_norm(_LN_EPS, "block_2")(y)
    y = attn_lib.gelu(attn_lib.dense(4 * c, "block_3", self.dtype)(y))
    y = attn_lib.dense(c, "block_5", self.dtype)(y)
    scale = self.param("layer_scale", nn.initializers.constant(self.layer_scale_init), (c, 1, 1),
                       jnp.float32)
    y = y * scale.reshape(c).astype(y.dtype)
    return x + tl.drop_path(self, y, self.stochastic_depth_prob, train)


class ConvNeXt(nn.Module):
  """torchvision ConvNeXt. Input [B, H, W, 3] NHWC; returns (logits, intermediates).

  Attributes:
    dims: channels per stage (tiny: 96, 192, 384, 768).
    depths: blocks per stage (tiny: 3, 3, 9, 3).
    num_classes: size of the final Linear (1000 for ImageNet checkpoints).
    stochastic_depth_prob: torchvision's linearly increasing drop-path rate (convnext_tiny: 0.1,
      set by the preset's train_kwargs); 0 by default so eval and parity need no rng.
    layer_scale: initial value of every block's layer scale (torchvision: 1e-6).
    in_channels: input channels (3: the paper's mel repeated; 1: BirdSet's single dB mel).
    head_eps: eps of the LayerNorm on the pooled features (transformers: layer_norm_eps).
    embedding: "logits" (the classifier output) or "pooled" (the normalised pooled features).
    dtype: compute dtype of convs/Linears (norms stay float32).
  """

  dims: Sequence[int] = (96, 192, 384, 768)
  depths: Sequence[int] = (3, 3, 9, 3)
  num_classes: int = 1000
  stochastic_depth_prob: float = 0.0
  layer_scale: float = 1e-6
  in_channels: int = 3
  head_eps: float = _LN_EPS
  embedding: str = "logits"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    tl.require_nhwc(x, self.in_channels, "ConvNeXt",
                    "paper_mel3" if self.in_channels == 3 else "birdset_mel")
    if self.embedding not in ("logits", "pooled"):
      raise ValueError(f"embedding must be 'logits' or 'pooled', got {self.embedding!r}")
    if len(self.dims) != len(self.depths):
      raise ValueError(f"dims {self.dims} and depths {self.depths} differ in length")
    x = _conv(self.dims[0], 4, 4, 0, "features_0_0", self.dtype)(x.astype(self.dtype))
    x = attn_lib.layer_norm(_LN_EPS, "features_0_1")(x)
    total, block_id, index = sum(self.depths), 0, 1
    for stage, (dim, depth) in enumerate(zip(self.dims, self.depths)):
      for j in range(depth):
        rate = self.stochastic_depth_prob * block_id / max(total - 1, 1)
        x = CNBlock(rate, self.layer_scale, self.dtype, name=f"features_{index}_{j}")(x, train)
        block_id += 1
      index += 1
      if stage < len(self.dims) - 1:
        x = attn_lib.layer_norm(_LN_EPS, f"features_{index}_0")(x)
        x = _conv(self.dims[stage + 1], 2, 2, 0, f"features_{index}_1", self.dtype)(x)
        index += 1
    feature_map = x
    pooled = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    pre_logits = attn_lib.layer_norm(self.head_eps, "classifier_0")(pooled)
    logits = attn_lib.dense(self.num_classes, "classifier_2", jnp.float32)(pre_logits)
    embedding = logits if self.embedding == "logits" else pre_logits
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": embedding}


# Architecture hyper-parameters by name; tests shrink them through `build(**overrides)` and the
# same overrides build the matching torchvision model (zoo/bindings.py).
ARCHS = {
    "convnext_tiny": dict(dims=(96, 192, 384, 768), depths=(3, 3, 9, 3)),
    "convnext_small": dict(dims=(96, 192, 384, 768), depths=(3, 3, 27, 3)),
    # DBD-research-group/ConvNeXT-Base-BirdSet-XCL (transformers ConvNextForImageClassification,
    # from facebook/convnext-base-224-22k): hidden_sizes 128-1024, depths 3/3/27/3, num_channels
    # 1, 9736 XCL species, layer_norm_eps 1e-12 on the pooled features.
    "convnext_base_birdset": dict(dims=(128, 256, 512, 1024), depths=(3, 3, 27, 3),
                                  num_classes=9736, in_channels=1, head_eps=1e-12,
                                  embedding="pooled"),
}


def build(arch: str = "convnext_tiny", **overrides) -> ConvNeXt:
  return ConvNeXt(**{**ARCHS[arch], **overrides})
