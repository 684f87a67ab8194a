"""Swin Transformer (v1) in Flax, numerically identical to torchvision's `swin_s` (NHWC input).

Same layout as torchvision so its ImageNet weights port one to one (porting/swin.py): a 4x4/4
patch-embedding conv + LayerNorm, stages of shifted-window attention blocks (relative-position
bias tables, pre-LN, MLP x4 with exact GELU) separated by patch merging (2x2 -> 4C -> LN ->
Linear to 2C), a final LayerNorm, global average pool and a Linear to 1000 classes.

Spectrograms are not square and rarely a multiple of the window, so the window arithmetic must
follow torchvision exactly, not the original Swin code:
  * the feature map is zero-padded (bottom/right) to a multiple of the window *after* norm1,
    and the padded tokens take part in attention unmasked (torchvision does not mask them);
  * a stage whose padded map is no larger than the window along an axis gets no shift on that
    axis (the window itself is never shrunk: a 4x7 map is padded to 7x7);
  * shifted windows get torchvision's -100 region mask, built from the padded size.
All of this depends only on static shapes, so masks and indices are numpy constants under jit.

As for the paper's other torchvision models, the embedding is the 1000-d ImageNet output and
`pre_logits` the pooled features. Module names mirror torchvision's keys (`features_1_0` is
`features.1.0`), which is all the porter needs.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib
from bioacoustics_jax.models.swin_layers import LN_EPS, PatchMerging, SwinBlock


class SwinTransformer(nn.Module):
  """torchvision SwinTransformer (v1). Input [B, H, W, 3] NHWC; returns (logits, intermediates).

  Attributes:
    embed_dim: channels after patch embedding (Swin-S: 96); stage i has embed_dim * 2**i.
    depths: blocks per stage (Swin-S: 2, 2, 18, 2).
    num_heads: attention heads per stage (Swin-S: 3, 6, 12, 24).
    window_size: attention window (7, 7).
    patch_size: patch-embedding conv kernel and stride (4, 4).
    num_classes: size of the final Linear (1000 for ImageNet checkpoints).
    stochastic_depth_prob: torchvision's linearly increasing drop-path rate (swin_s: 0.3);
      0 by default so fine-tuning needs no 'dropout' rng unless asked for.
    dtype: compute dtype of convs/Linears (norms and softmax stay float32).
  """

  embed_dim: int = 96
  depths: Sequence[int] = (2, 2, 18, 2)
  num_heads: Sequence[int] = (3, 6, 12, 24)
  window_size: tuple[int, int] = (7, 7)
  patch_size: tuple[int, int] = (4, 4)
  mlp_ratio: float = 4.0
  num_classes: int = 1000
  stochastic_depth_prob: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"Swin expects NHWC images [B, H, W, 3], got shape {x.shape}; "
                       "repeat a 1-channel mel to 3 channels (recipe 'paper_mel3').")
    if len(self.depths) != len(self.num_heads):
      raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} differ in length")
    x = nn.Conv(self.embed_dim, self.patch_size, strides=self.patch_size, padding="VALID",
                dtype=self.dtype, name="features_0_0")(x.astype(self.dtype))
    x = attn_lib.layer_norm(LN_EPS, "features_0_2")(x)
    total, block_id, index = sum(self.depths), 0, 1
    window = tuple(self.window_size)
    for stage, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
      for j in range(depth):
        shift = (0, 0) if j % 2 == 0 else (window[0] // 2, window[1] // 2)
        rate = self.stochastic_depth_prob * block_id / max(total - 1, 1)
        x = SwinBlock(heads, window, shift, self.mlp_ratio, rate, self.dtype,
                      name=f"features_{index}_{j}")(x, train)
        block_id += 1
      index += 1
      if stage < len(self.depths) - 1:
        x = PatchMerging(self.dtype, name=f"features_{index}")(x)
        index += 1
    feature_map = attn_lib.layer_norm(LN_EPS, "norm")(x)
    pre_logits = jnp.mean(feature_map.astype(jnp.float32), axis=(1, 2))
    logits = attn_lib.dense(self.num_classes, "head", jnp.float32)(pre_logits)
    return logits, {"feature_map": feature_map, "pre_logits": pre_logits, "embedding": logits}


# Architecture hyper-parameters by name; tests shrink them through `build(**overrides)` and the
# same overrides build the matching torchvision model (zoo/bindings.py).
ARCHS = {
    "swin_t": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    "swin_s": dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    "swin_b": dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}


def build(arch: str = "swin_s", **overrides) -> SwinTransformer:
  return SwinTransformer(**{**ARCHS[arch], **overrides})
