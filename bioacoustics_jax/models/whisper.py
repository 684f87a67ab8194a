"""Whisper's audio encoder in Flax, numerically identical to transformers' `WhisperEncoder`.

Input: the log-mel of the 'whisper_logmel' recipe, [B, n_mels, frames] with frames <= 3000
(2 x max_source_positions): the frames that touch the clip. Whisper is trained on, and its
encoder only accepts, 30 s windows; WhisperFeatureExtractor pads the waveform with zeros to 30 s
first, and every frame past the clip then holds the same value, the log floor
max(-1.5, max - 2) of its normalised log-mel ((log10 floor 1e-10 + 4) / 4, or 8 log10 units
below the clip's peak). `pad_features` fills the missing frames with exactly that value, so the
encoder sees what it sees in transformers, and the clip's length is still known here.

Network (openai/whisper, pre-LN):
  * Conv1d(n_mels -> d, kernel 3, padding 1), GELU, Conv1d(d -> d, kernel 3, stride 2,
    padding 1), GELU: 3000 frames -> 1500 positions of 20 ms;
  * + the position table `embed_positions` [1500, d] (sinusoids in the checkpoint; frozen when
    fine-tuning, as transformers does);
  * layers: x += attn(LN(x)) (k_proj without bias), x += fc2(GELU(fc1(LN(x)))); final LayerNorm.

Outputs `(last_hidden_state [B, 1500, d], intermediates)`, `embedding` = `pre_logits` = the mean
over the positions that cover the clip (ceil(frames / 2); the 30 s padding is left out), and
`last_hidden_state`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from bioacoustics_jax.models import attention as attn_lib

# WhisperFeatureExtractor: log10(max(mel, 1e-10)), floored 8 below the peak, then (x + 4) / 4.
LOG_FLOOR = (-10.0 + 4.0) / 4.0
DYNAMIC_RANGE = 8.0 / 4.0


def pad_features(features: jnp.ndarray, num_frames: int) -> jnp.ndarray:
  """[B, n_mels, n] -> [B, n_mels, num_frames]: the frames of 30 s zero padding appended, each
  max(LOG_FLOOR, peak - DYNAMIC_RANGE) with the clip's own peak (WhisperFeatureExtractor)."""
  n = features.shape[-1]
  if n == num_frames:
    return features
  peak = jnp.max(features, axis=(1, 2), keepdims=True)
  floor = jnp.maximum(LOG_FLOOR, peak - DYNAMIC_RANGE)
  fill = jnp.broadcast_to(floor, features.shape[:2] + (num_frames - n,)).astype(features.dtype)
  return jnp.concatenate([features, fill], axis=-1)


class EncoderLayer(nn.Module):
  num_heads: int
  ff_dim: int
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0
  activation_dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    y = attn_lib.layer_norm(1e-5, "self_attn_layer_norm")(x)
    y = attn_lib.SelfAttention(self.num_heads, "out_proj", self.dtype, self.attention_dropout,
                               key_bias=False, name="self_attn")(y, train=train)
    x = x + attn_lib.dropout(y, self.dropout, train)
    y = attn_lib.layer_norm(1e-5, "final_layer_norm")(x)
    y = attn_lib.gelu(attn_lib.dense(self.ff_dim, "fc1", self.dtype)(y))
    y = attn_lib.dropout(y, self.activation_dropout, train)
    y = attn_lib.dense(x.shape[-1], "fc2", self.dtype)(y)
    return x + attn_lib.dropout(y, self.dropout, train)


class WhisperEncoder(nn.Module):
  """Whisper's encoder. Input [B, n_mels, frames <= 2 * max_source_positions] log-mel.

  Attributes:
    num_mel_bins, d_model, num_layers, num_heads, ff_dim, max_source_positions: the
      WhisperConfig's num_mel_bins, d_model, encoder_layers, encoder_attention_heads,
      encoder_ffn_dim and max_source_positions.
    dropout, attention_dropout, activation_dropout, layer_drop: train-mode regularisation as
      transformers' (dropout, attention_dropout, activation_dropout, encoder_layerdrop); 0 by
      default, active only with train=True and a 'dropout' rng.
  """

  num_mel_bins: int = 80
  d_model: int = 512
  num_layers: int = 6
  num_heads: int = 8
  ff_dim: int = 2048
  max_source_positions: int = 1500
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0
  activation_dropout: float = 0.0
  layer_drop: float = 0.0

  @nn.compact
  def __call__(self, features: jnp.ndarray, train: bool = False):
    num_frames = 2 * self.max_source_positions
    if features.ndim != 3 or features.shape[1] != self.num_mel_bins or not (
        0 < features.shape[2] <= num_frames):
      raise ValueError(f"Whisper expects log-mel features [B, {self.num_mel_bins}, frames <= "
                       f"{num_frames}], got shape {features.shape}; use the 'whisper_logmel' "
                       "recipe (16 kHz, clips up to 30 s).")
    covered = -(-features.shape[2] // 2)  # positions that see the clip
    x = jnp.swapaxes(pad_features(features.astype(jnp.float32), num_frames), 1, 2)
    x = attn_lib.gelu(nn.Conv(self.d_model, (3,), padding=((1, 1),), dtype=self.dtype,
                              name="conv1")(x.astype(self.dtype)))
    x = attn_lib.gelu(nn.Conv(self.d_model, (3,), strides=(2,), padding=((1, 1),),
                              dtype=self.dtype, name="conv2")(x))
    positions = nn.Embed(self.max_source_positions, self.d_model, name="embed_positions")
    x = x + positions(jnp.arange(self.max_source_positions))[None].astype(x.dtype)
    x = attn_lib.dropout(x, self.dropout, train)
    for i in range(self.num_layers):
      y = EncoderLayer(self.num_heads, self.ff_dim, self.dtype, self.dropout,
                       self.attention_dropout, self.activation_dropout, name=f"layers_{i}")(
                           x, train)
      if train and self.layer_drop > 0.0:
        # LayerDrop (transformers' encoder_layerdrop): the batch skips the layer; a select, so
        # shapes stay static.
        skip = jax.random.bernoulli(self.make_rng("dropout"), self.layer_drop)
        y = jnp.where(skip, x, y)
      x = y
    x = attn_lib.layer_norm(1e-5, "layer_norm")(x)
    embedding = jnp.mean(x[:, :covered].astype(jnp.float32), axis=1)
    return x, {"embedding": embedding, "pre_logits": embedding, "last_hidden_state": x}


# openai/whisper-base config.json (the encoder's part).
ARCHS = {
    "whisper_base": dict(num_mel_bins=80, d_model=512, num_layers=6, num_heads=8, ff_dim=2048,
                         max_source_positions=1500),
}


def build(arch: str = "whisper_base", **overrides) -> WhisperEncoder:
  return WhisperEncoder(**{**ARCHS[arch], **overrides})
