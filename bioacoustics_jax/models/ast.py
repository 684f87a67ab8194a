"""Audio Spectrogram Transformer (AST) in Flax, numerically identical to transformers' `ASTModel`.

Input: a Kaldi-style log-mel fbank [B, frames, mel_bins] (recipe "ast_fbank": 128 bins, 10 ms
hop, padded/cropped to `max_length` frames). The fbank is viewed as a 1-channel image
[mel, time] (transformers transposes it the same way), cut into 16x16 patches with stride 10x10
(overlapping) by a Conv2d, flattened frequency-major, prefixed with a cls and a distillation
token (DeiT), plus a learned position table, then 12 pre-LN ViT layers (exact GELU) and a
final LayerNorm. The pooled output (mean of the two tokens, 768-d) is the embedding.

LayerNorm eps is 1e-12 here (BERT/ViT convention in transformers), not torch's 1e-5.
The position table fixes the number of patches, so inputs must have exactly `max_length`
frames and `num_mel_bins` bins; anything else is a clear error instead of a silent resize.
Module names mirror transformers 5's keys (`layers.0.attention.q_proj`); porting/ast.py also
reads the older `encoder.layer.0.attention.attention.query` layout of published checkpoints.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib


class PatchEmbeddings(nn.Module):
  hidden_size: int
  patch_size: int
  frequency_stride: int
  time_stride: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, fbank: jnp.ndarray) -> jnp.ndarray:
    # [B, T, F] -> [B, F, T, 1]: frequency is the image height, as in transformers.
    x = jnp.swapaxes(fbank, 1, 2)[..., None].astype(self.dtype)
    x = nn.Conv(self.hidden_size, (self.patch_size, self.patch_size),
                strides=(self.frequency_stride, self.time_stride), padding="VALID",
                dtype=self.dtype, name="projection")(x)
    return x.reshape(x.shape[0], -1, x.shape[-1])  # frequency-major, like torch's flatten(2)


class Embeddings(nn.Module):
  hidden_size: int
  patch_size: int
  frequency_stride: int
  time_stride: int
  num_patches: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, fbank: jnp.ndarray) -> jnp.ndarray:
    init = nn.initializers.truncated_normal(0.02)
    d = self.hidden_size
    cls = self.param("cls_token", init, (1, 1, d), jnp.float32)
    dist = self.param("distillation_token", init, (1, 1, d), jnp.float32)
    pos = self.param("position_embeddings", init, (1, self.num_patches + 2, d), jnp.float32)
    patches = PatchEmbeddings(d, self.patch_size, self.frequency_stride, self.time_stride,
                              self.dtype, name="patch_embeddings")(fbank)
    b = patches.shape[0]
    tokens = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, d)).astype(patches.dtype),
                              jnp.broadcast_to(dist, (b, 1, d)).astype(patches.dtype),
                              patches], axis=1)
    return tokens + pos


class Layer(nn.Module):
  num_heads: int
  intermediate_size: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    y = attn_lib.layer_norm(self.eps, "layernorm_before")(x)
    x = x + attn_lib.SelfAttention(self.num_heads, "o_proj", self.dtype, name="attention")(y)
    y = attn_lib.layer_norm(self.eps, "layernorm_after")(x)
    return x + attn_lib.FeedForward(self.intermediate_size, ("fc1", "fc2"), self.dtype,
                                  name="mlp")(y)


class AST(nn.Module):
  """transformers ASTModel. Input [B, max_length, num_mel_bins]; returns (pooled, intermediates).

  Attributes mirror `ASTConfig`: hidden_size, num_layers (num_hidden_layers), num_heads
  (num_attention_heads), intermediate_size, patch_size, frequency_stride, time_stride,
  max_length, num_mel_bins, layer_norm_eps.
  """

  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  patch_size: int = 16
  frequency_stride: int = 10
  time_stride: int = 10
  max_length: int = 1024
  num_mel_bins: int = 128
  layer_norm_eps: float = 1e-12
  dtype: Any = jnp.float32

  def grid(self) -> tuple[int, int]:
    """(frequency, time) patches, as ASTEmbeddings.get_shape."""
    return ((self.num_mel_bins - self.patch_size) // self.frequency_stride + 1,
            (self.max_length - self.patch_size) // self.time_stride + 1)

  @nn.compact
  def __call__(self, fbank: jnp.ndarray, train: bool = False):
    del train  # AST's published configs use no dropout
    expected = (self.max_length, self.num_mel_bins)
    if fbank.ndim != 3 or tuple(fbank.shape[1:]) != expected:
      raise ValueError(f"AST expects fbank features [B, {expected[0]} frames, {expected[1]} mel "
                       f"bins], got shape {fbank.shape}; use the 'ast_fbank' recipe (it pads or "
                       "crops to max_length frames), or build with matching max_length.")
    f, t = self.grid()
    x = Embeddings(self.hidden_size, self.patch_size, self.frequency_stride, self.time_stride,
                   f * t, self.dtype, name="embeddings")(fbank)
    for i in range(self.num_layers):
      x = Layer(self.num_heads, self.intermediate_size, self.layer_norm_eps, self.dtype,
                name=f"layers_{i}")(x)
    x = attn_lib.layer_norm(self.layer_norm_eps, "layernorm")(x)
    pooled = (x[:, 0] + x[:, 1]) / 2
    return pooled, {"embedding": pooled, "pre_logits": pooled, "last_hidden_state": x}


# MIT/ast-finetuned-audioset-10-10-0.4593 (AudioSet, 10x10 stride, 1024 frames x 128 bins).
ARCHS = {"ast": {}}


def build(arch: str = "ast", **overrides) -> AST:
  return AST(**{**ARCHS[arch], **overrides})
