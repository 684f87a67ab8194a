"""PANNs CNN14 in Flax, numerically identical to panns_inference's `Cnn14` (after its front end).

The original (Kong et al. 2020, panns_inference/models.py) computes its log-mel inside the
model with torchlibrosa; here that front end is the input recipe `panns_logmel`
(audio/recipes/extended.py), so this module takes the log-mel [B, frames, 64] and starts at `bn0`, a
BatchNorm over the 64 mel bins. Then six ConvBlocks (two 3x3 convs without bias, each BN +
ReLU; 2x2 average pool after blocks 1-5, none after block 6) with 64..2048 channels, mean over
the mel axis, max + mean over time, `fc1` (2048) + ReLU = the embedding PANNs users extract
(panns_inference's `embedding`), and `fc_audioset` + sigmoid = the 527 AudioSet tag
probabilities. Module names mirror the checkpoint's keys (`conv_block3.bn2.running_var`).

Layout: NHWC with H = time and W = mel, the torch NCHW map (B, C, time, mel) transposed.
Train mode reproduces the original's dropout (0.2 after every block, 0.5 around fc1) when the
preset's train_kwargs switch it on; its SpecAugment and mixup (training-script augmentations)
are not part of this module. `width` scales every block's channels for tiny tests.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib
from bioacoustics_jax.models import torch_compatible_layers as tl

# torch's init_layer: xavier_uniform_ weights, zero biases (the conv blocks have no bias).
_XAVIER = nn.initializers.xavier_uniform()


class ConvBlock(nn.Module):
  """conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> avg pool (`pool` x `pool`, floor)."""

  features: int
  pool: int = 2
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    conv = functools.partial(tl.torch_conv, self.features, 3, 1, 1, dtype=self.dtype,
                             kernel_init=_XAVIER)
    bn = functools.partial(tl.BatchNorm, dtype=self.dtype, axis_name=self.bn_axis_name)
    x = nn.relu(bn(name="bn1")(conv(name="conv1")(x), train))
    x = nn.relu(bn(name="bn2")(conv(name="conv2")(x), train))
    if self.pool > 1:
      x = nn.avg_pool(x, (self.pool, self.pool), strides=(self.pool, self.pool), padding="VALID")
    return x


class Cnn14(nn.Module):
  """PANNs Cnn14. Input log-mel [B, frames, mel_bins]; returns (tag probabilities, intermediates).

  Attributes:
    width: channels of the first block (64); block i has width * 2**i, fc1 has 32 * width.
    num_classes: AudioSet tags (527).
    mel_bins: bins of the input log-mel (64), the size of bn0.
    block_dropout / head_dropout: the original's train-mode dropout (0.2 / 0.5), 0 by default.
    dtype / bn_axis_name: compute dtype; mapped axis for cross-replica BatchNorm.
  """

  width: int = 64
  num_classes: int = 527
  mel_bins: int = 64
  block_dropout: float = 0.0
  head_dropout: float = 0.0
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, logmel: jnp.ndarray, train: bool = False):
    if logmel.ndim != 3 or logmel.shape[-1] != self.mel_bins:
      raise ValueError(f"Cnn14 expects a log-mel [B, frames, {self.mel_bins}], got shape "
                       f"{tuple(logmel.shape)}; use input recipe 'panns_logmel'.")
    if logmel.shape[1] < 32:
      raise ValueError(f"Cnn14 needs at least 32 frames (five 2x2 pools), got "
                       f"{logmel.shape[1]}: clips of at least ~0.33 s at 32 kHz.")
    bn = functools.partial(tl.BatchNorm, dtype=self.dtype, axis_name=self.bn_axis_name)
    x = bn(name="bn0")(logmel.astype(self.dtype), train)  # over mel bins, as torch's transpose
    x = x[..., None]  # [B, time, mel, 1]
    for i in range(6):
      x = ConvBlock(self.width * 2**i, 2 if i < 5 else 1, self.dtype, self.bn_axis_name,
                    name=f"conv_block{i + 1}")(x, train)
      x = attn_lib.dropout(x, self.block_dropout, train)
    feature_map = x
    x = jnp.mean(x.astype(jnp.float32), axis=2)  # over mel -> [B, time, C]
    pre_logits = jnp.max(x, axis=1) + jnp.mean(x, axis=1)
    x = attn_lib.dropout(pre_logits, self.head_dropout, train)
    hidden = nn.relu(nn.Dense(32 * self.width, kernel_init=_XAVIER, name="fc1")(x))
    embedding = attn_lib.dropout(hidden, self.head_dropout, train)
    probabilities = jax.nn.sigmoid(
        nn.Dense(self.num_classes, kernel_init=_XAVIER, name="fc_audioset")(hidden))
    return probabilities, {"feature_map": feature_map, "pre_logits": pre_logits,
                           "embedding": embedding}
