"""Vision Transformer in Flax, numerically identical to torchvision's `vit_b_16` (NHWC input).

torchvision layout, so its ImageNet checkpoint ports key for key (porting/vit.py): a 16x16/16
patch conv with bias (`conv_proj`), a learned class token prepended, a learned position table
(`encoder.pos_embedding`), 12 pre-LN encoder blocks (LayerNorm eps 1e-6, multi-head
self-attention, MLP x4 with exact GELU, `mlp.0`/`mlp.3`), a final LayerNorm (`encoder.ln`) and a
Linear head on the class token (`heads.head`). Attention is models/attention.py's SelfAttention
(separate q/k/v Linears); the porter splits torch's fused `in_proj_weight` into them.

torchvision's ViT takes only square `image_size` inputs (its position table fixes the number of
patches), so spectrograms reach it through the recipe `paper_mel3_224`: the paper's 3-channel
batch-max mel resized to 224x224 (audio/recipes/extended.py). Any other input shape is a clear error,
never a silent position-table interpolation.

As for the paper's other ImageNet models, the embedding is the 1000-d ImageNet output;
`pre_logits` is the normalised class token (768-d).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib

_LN_EPS = 1e-6  # torchvision: partial(nn.LayerNorm, eps=1e-6)


class EncoderBlock(nn.Module):
  """x + attn(ln_1(x)), then x + mlp(ln_2(x)); dropout only in train mode (0 in vit_b_16)."""

  num_heads: int
  mlp_dim: int
  dropout: float = 0.0
  attention_dropout: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    y = attn_lib.layer_norm(_LN_EPS, "ln_1")(x)
    y = attn_lib.SelfAttention(self.num_heads, "out_proj", self.dtype, self.attention_dropout,
                               name="self_attention")(y, train=train)
    x = x + attn_lib.dropout(y, self.dropout, train)
    y = attn_lib.layer_norm(_LN_EPS, "ln_2")(x)
    y = attn_lib.dropout(attn_lib.gelu(attn_lib.dense(self.mlp_dim, "mlp_0", self.dtype)(y)),
                         self.dropout, train)
    y = attn_lib.dense(x.shape[-1], "mlp_3", self.dtype)(y)
    return x + attn_lib.dropout(y, self.dropout, train)


class Encoder(nn.Module):
  """pos_embedding + dropout -> blocks `encoder_layer_i` -> LayerNorm `ln`."""

  num_layers: int
  num_heads: int
  mlp_dim: int
  dropout: float = 0.0
  attention_dropout: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    pos = self.param("pos_embedding", nn.initializers.normal(0.02), (1,) + x.shape[1:],
                     jnp.float32)  # torch's [1, seq, D]
    x = attn_lib.dropout(x + pos.astype(x.dtype), self.dropout, train)
    for i in range(self.num_layers):
      x = EncoderBlock(self.num_heads, self.mlp_dim, self.dropout, self.attention_dropout,
                       self.dtype, name=f"encoder_layer_{i}")(x, train)
    return attn_lib.layer_norm(_LN_EPS, "ln")(x)


class VisionTransformer(nn.Module):
  """torchvision VisionTransformer. Input [B, image_size, image_size, 3]; (logits, intermediates).

  Attributes mirror torchvision's constructor: image_size, patch_size, num_layers, num_heads,
  hidden_dim, mlp_dim, dropout, attention_dropout, num_classes (no representation layer, no
  conv stem: the vit_b_16 configuration). dtype is the compute dtype (norms, softmax float32).
  """

  image_size: int = 224
  patch_size: int = 16
  num_layers: int = 12
  num_heads: int = 12
  hidden_dim: int = 768
  mlp_dim: int = 3072
  dropout: float = 0.0
  attention_dropout: float = 0.0
  num_classes: int = 1000
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    size = (self.image_size, self.image_size, 3)
    if x.ndim != 4 or tuple(x.shape[1:]) != size:
      raise ValueError(f"ViT expects NHWC images [B, {size[0]}, {size[1]}, 3], got shape "
                       f"{tuple(x.shape)}; use input recipe 'paper_mel3_224' (the paper's mel "
                       "resized to the ViT's square input), or build with a matching image_size.")
    if self.image_size % self.patch_size:
      raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size "
                       f"{self.patch_size}")
    p = self.patch_size
    x = nn.Conv(self.hidden_dim, (p, p), strides=(p, p), padding="VALID", dtype=self.dtype,
                name="conv_proj")(x.astype(self.dtype))
    x = x.reshape(x.shape[0], -1, self.hidden_dim)  # row-major patches, as torch's flatten
    cls = self.param("class_token", nn.initializers.zeros, (1, 1, self.hidden_dim), jnp.float32)
    x = jnp.concatenate([jnp.broadcast_to(cls, (x.shape[0], 1, self.hidden_dim)).astype(x.dtype),
                         x], axis=1)
    x = Encoder(self.num_layers, self.num_heads, self.mlp_dim, self.dropout,
                self.attention_dropout, self.dtype, name="encoder")(x, train)
    pre_logits = x[:, 0].astype(jnp.float32)
    logits = attn_lib.dense(self.num_classes, "heads_head", jnp.float32)(pre_logits)
    return logits, {"pre_logits": pre_logits, "embedding": logits, "last_hidden_state": x}


# Architecture hyper-parameters by name; tests shrink them through `build(**overrides)` and the
# same overrides build the matching torchvision model (zoo/bindings.py).
ARCHS = {
    "vit_b_16": dict(patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072),
}


def build(arch: str = "vit_b_16", **overrides) -> VisionTransformer:
  return VisionTransformer(**{**ARCHS[arch], **overrides})
