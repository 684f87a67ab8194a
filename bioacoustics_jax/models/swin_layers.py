"""Swin's layers, shared by the families built on them (models/swin.py: torchvision's Swin;
models/clap.py: CLAP's HTS-AT, whose transformers layout matches torchvision's block for block).

Shifted-window attention with relative-position bias, the pre-LN block and the 2x2 patch
merging, with torchvision's window arithmetic (models/swin.py's docstring states it). Masks and
indices depend only on static shapes, so they are numpy constants under jit.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.models import attention as attn_lib
from bioacoustics_jax.models import torch_compatible_layers as tl

LN_EPS = 1e-5  # torchvision builds its Swin norms with partial(nn.LayerNorm, eps=1e-5)


def relative_position_index(window: tuple[int, int]) -> np.ndarray:
  """[N*N] index into the bias table for every (query, key) pair of a window, N = wh * ww.

  Same construction as torchvision's `relative_position_index` buffer: row/column offsets
  shifted to be non-negative, then flattened row-major over a (2wh-1) x (2ww-1) table.
  """
  wh, ww = window
  coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
  rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)
  rel = rel + np.array([wh - 1, ww - 1])
  return (rel[..., 0] * (2 * ww - 1) + rel[..., 1]).reshape(-1)


def shifted_window_mask(padded: tuple[int, int], window: tuple[int, int],
                        shift: tuple[int, int]) -> np.ndarray:
  """[num_windows, N, N] additive mask: 0 within a region, -100 across regions (torchvision).

  After the cyclic shift a window can hold tokens from up to four regions of the original map
  that were not neighbours; they must not attend to each other. The slices reproduce
  torchvision's, including its behaviour when only one axis is shifted (a zero shift makes
  `slice(-0, None)` cover the whole axis, so the unshifted axis ends up as one region).
  """
  hp, wp = padded
  (wh, ww), (sh, sw) = window, shift
  regions = np.zeros((hp, wp), np.float32)
  count = 0
  for h in ((0, -wh), (-wh, -sh), (-sh, None)):
    for w in ((0, -ww), (-ww, -sw), (-sw, None)):
      regions[h[0]:h[1], w[0]:w[1]] = count
      count += 1
  regions = regions.reshape(hp // wh, wh, wp // ww, ww).transpose(0, 2, 1, 3)
  regions = regions.reshape(-1, wh * ww)
  diff = regions[:, None, :] - regions[:, :, None]
  return np.where(diff != 0, np.float32(-100.0), np.float32(0.0))


class ShiftedWindowAttention(nn.Module):
  """torchvision `shifted_window_attention` (v1) on [B, H, W, C]; fused `qkv` Linear, `proj`."""

  num_heads: int
  window_size: tuple[int, int]
  shift_size: tuple[int, int]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    b, h, w, c = x.shape
    wh, ww = self.window_size
    x = jnp.pad(x, ((0, 0), (0, (wh - h % wh) % wh), (0, (ww - w % ww) % ww), (0, 0)))
    hp, wp = x.shape[1], x.shape[2]
    # No shift along an axis the (padded) map does not exceed: one window covers it anyway.
    shift = (0 if wh >= hp else self.shift_size[0], 0 if ww >= wp else self.shift_size[1])
    shifted = sum(shift) > 0
    if shifted:
      x = jnp.roll(x, (-shift[0], -shift[1]), axis=(1, 2))

    nh, nw, n = hp // wh, wp // ww, wh * ww
    windows = x.reshape(b, nh, wh, nw, ww, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, n, c)
    qkv = attn_lib.dense(3 * c, "qkv", self.dtype)(windows)
    # torch reshapes qkv to (.., 3, heads, head_dim): q, k, v are consecutive thirds.
    q, k, v = (attn_lib.split_heads(t, self.num_heads) for t in jnp.split(qkv, 3, axis=-1))

    table = self.param("relative_position_bias_table", nn.initializers.truncated_normal(0.02),
                       ((2 * wh - 1) * (2 * ww - 1), self.num_heads), jnp.float32)
    index = relative_position_index(self.window_size)
    bias = table[index].reshape(n, n, self.num_heads).transpose(2, 0, 1)[None]  # [1, H, N, N]
    if shifted:
      mask = jnp.asarray(shifted_window_mask((hp, wp), self.window_size, shift))
      bias = bias[None] + mask[None, :, None]  # [1, nW, H, N, N]: windows are batch-major
      bias = jnp.broadcast_to(bias, (b,) + bias.shape[1:]).reshape((-1,) + bias.shape[2:])

    out = attn_lib.dense(c, "proj", self.dtype)(attn_lib.attend(q, k, v, bias))
    out = out.reshape(b, nh, nw, wh, ww, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
    if shifted:
      out = jnp.roll(out, shift, axis=(1, 2))
    return out[:, :h, :w, :]


class SwinBlock(nn.Module):
  """Pre-LN block: x + attn(norm1(x)), then x + mlp(norm2(x)); torch's MLP is `mlp.0`/`mlp.3`."""

  num_heads: int
  window_size: tuple[int, int]
  shift_size: tuple[int, int]
  mlp_ratio: float = 4.0
  stochastic_depth_prob: float = 0.0
  dtype: Any = jnp.float32
  # Dropout on the MLP output, train mode only: 0 in torchvision; transformers' Swin layout
  # (CLAP's HTS-AT, models/clap.py) applies hidden_dropout_prob there.
  mlp_dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    c = x.shape[-1]
    y = attn_lib.layer_norm(LN_EPS, "norm1")(x)
    y = ShiftedWindowAttention(self.num_heads, self.window_size, self.shift_size, self.dtype,
                               name="attn")(y)
    x = x + tl.drop_path(self, y, self.stochastic_depth_prob, train)
    y = attn_lib.layer_norm(LN_EPS, "norm2")(x)
    y = attn_lib.gelu(attn_lib.dense(int(c * self.mlp_ratio), "mlp_0", self.dtype)(y))
    y = attn_lib.dropout(attn_lib.dense(c, "mlp_3", self.dtype)(y), self.mlp_dropout, train)
    return x + tl.drop_path(self, y, self.stochastic_depth_prob, train)


class PatchMerging(nn.Module):
  """2x2 neighbours -> 4C (torchvision's x0, x1, x2, x3 order) -> LayerNorm -> Linear to 2C."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    h, w = x.shape[1], x.shape[2]
    x = jnp.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                         x[:, 1::2, 1::2]], axis=-1)
    x = attn_lib.layer_norm(LN_EPS, "norm")(x)
    return attn_lib.dense(x.shape[-1] // 2, "reduction", self.dtype, use_bias=False)(x)
