"""The wav2vec 2.0 family in Flax: HuBERT / AVES, wav2vec 2.0, WavLM and data2vec-audio.

One encoder with options, numerically identical to torchaudio's `wav2vec2_model` and
transformers' `HubertModel`, `Wav2Vec2Model`, `WavLMModel` and `Data2VecAudioModel` (all share
the fairseq layout; only key names differ). The members differ in three places only:
  * wav2vec 2.0 base: exactly HuBERT-base's network (a different pre-training objective);
  * data2vec-audio: LayerNorm in every feature-encoder conv ("layer_norm" mode) and, instead of
    the one weight-normed positional conv, a stack of `pos_conv_layers` convs (kernel 19, 16
    groups, 'same' padding), each followed by a LayerNorm without affine parameters and GELU
    (`pos_conv_layers`);
  * WavLM: a gated relative position bias in every attention layer (`relative_position_buckets`):
    bucketed relative distances (T5-style, log-spaced beyond half the buckets up to
    `max_distance`) index an embedding [buckets, heads] held by layer 0 only; every layer scales
    that bias per query by a gate computed from its own input,
    gate = a * (b * const - 1) + 2 with (a, b) = sigmoid of sums of a Linear(head_dim -> 8).

The waveform [B, samples] at 16 kHz goes through:
  * a CNN feature encoder: 7 strided Conv1d (no bias for HuBERT-base), GELU; in the "group_norm"
    mode of HuBERT-base only the first conv is normalised, by a GroupNorm with one group per
    channel (i.e. each channel normalised over *time*, per example); "layer_norm" mode (the
    large models) normalises every conv over channels instead;
  * a feature projection (LayerNorm, Linear 512 -> 768);
  * a convolutional positional embedding: a grouped Conv1d (kernel 128, 16 groups, padding 64)
    whose kernel is the weight-normed one (folded at porting time), minus its last output step
    (an even kernel with symmetric padding yields one step too many), GELU, added to the input;
  * a Transformer: post-LN for base (LayerNorm after the positional add, then
    x = LN(x + attn(x)); x = LN(x + ff(x))), pre-LN with a final LayerNorm for large models.

Outputs: `(last_hidden_state [B, frames, D], intermediates)` with `embedding` = the mean over
time of the last layer (what the paper uses for AVES, 768-d), `pre_logits` the same vector,
`last_hidden_state` and `extract_features` (CNN output, [B, frames, 512]).

Padding: AVES (torchaudio, group-norm extractor) is run without an attention mask, and its
per-example GroupNorm over time sees any zero padding anyway, so a padded waveform gives
different features whatever the attention does (the AVES README warns about exactly this).
We therefore take no lengths/mask: batches of equal-length windows (the BEANS recipe crops or
pads every clip to the same duration) behave exactly like torch, and whole padded examples in
an extraction batch are dropped by the caller's mask.

Training-time regularisation as torchaudio's wav2vec2 (the AVES config: `dropout` 0.1 after
the attention and feed-forward blocks and after the pre-encoder LayerNorm, `attention_dropout`
0.1, `projection_dropout` 0.1 after the feature projection, `layer_drop` 0.05: each layer is
skipped for the whole batch with that probability) is active only with `train=True` and a
'dropout' rng; every rate is 0 by default, and eval mode is unaffected. Not reproduced: HF's
SpecAugment-style time masking (`masked_spec_embed`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.models import attention as attn_lib

# (channels, kernel, stride) of HuBERT-base's conv feature encoder: 400-sample receptive
# field, 320-sample hop (20 ms at 16 kHz, ~49 frames per second).
BASE_CONV_LAYERS = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2


class ConvLayerBlock(nn.Module):
  """Conv1d -> optional norm (GroupNorm per channel or LayerNorm over channels) -> GELU."""

  features: int
  kernel: int
  stride: int
  norm: str | None  # None, "group" or "layer"
  use_bias: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    x = nn.Conv(self.features, (self.kernel,), strides=(self.stride,), padding="VALID",
                use_bias=self.use_bias, dtype=self.dtype, name="conv")(x)
    if self.norm == "group":
      # num_groups == channels: every channel normalised over time (torch GroupNorm eps 1e-5).
      x = nn.GroupNorm(num_groups=self.features, epsilon=1e-5, use_fast_variance=False,
                       dtype=jnp.float32, name="layer_norm")(x)
    elif self.norm == "layer":
      x = attn_lib.layer_norm(1e-5, "layer_norm")(x)
    return attn_lib.gelu(x)


class FeatureExtractor(nn.Module):
  """The CNN feature encoder: [B, samples] -> [B, frames, channels]."""

  conv_layers: Sequence[tuple[int, int, int]]
  mode: str
  use_bias: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, waveform: jnp.ndarray) -> jnp.ndarray:
    x = waveform[..., None].astype(self.dtype)
    for i, (features, kernel, stride) in enumerate(self.conv_layers):
      if self.mode == "group_norm":
        norm = "group" if i == 0 else None
      elif self.mode == "layer_norm":
        norm = "layer"
      else:
        raise ValueError(f"extractor_mode must be 'group_norm' or 'layer_norm', got {self.mode!r}")
      x = ConvLayerBlock(features, kernel, stride, norm, self.use_bias, self.dtype,
                         name=f"conv_layers_{i}")(x)
    return x


class FeatureProjection(nn.Module):
  embed_dim: int
  eps: float
  dtype: Any = jnp.float32
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    x = attn_lib.layer_norm(self.eps, "layer_norm")(x)
    x = attn_lib.dense(self.embed_dim, "projection", self.dtype)(x)
    return attn_lib.dropout(x, self.dropout, train)


class PositionalConvEmbedding(nn.Module):
  """Grouped Conv1d 'same'-padded by kernel // 2, last step dropped for even kernels, GELU.

  With `eps` it is one layer of data2vec-audio's positional stack: a LayerNorm without affine
  parameters between the conv and the GELU."""

  kernel: int
  groups: int
  dtype: Any = jnp.float32
  eps: float | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    pad = self.kernel // 2
    y = nn.Conv(x.shape[-1], (self.kernel,), padding=((pad, pad),),
                feature_group_count=self.groups, dtype=self.dtype, name="conv")(x)
    if self.kernel % 2 == 0:
      y = y[:, :-1]
    if self.eps is not None:
      y = nn.LayerNorm(epsilon=self.eps, use_scale=False, use_bias=False,
                       use_fast_variance=False, dtype=jnp.float32, name="layer_norm")(y)
    return attn_lib.gelu(y)


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> np.ndarray:
  """WavLM's bucket of every (query, key) offset [length, length] (transformers'
  `_relative_positions_bucket`): half the buckets per sign, the first half of those exact,
  the rest log-spaced up to `max_distance` (float32 logs, as torch computes them)."""
  rel = np.arange(length)[None, :] - np.arange(length)[:, None]
  half = num_buckets // 2
  buckets = (rel > 0).astype(np.int64) * half
  rel = np.abs(rel)
  max_exact = half // 2
  # Offsets below max_exact take the exact branch; clamp them to 1 so the log stays finite.
  large = np.log(np.maximum(rel, 1).astype(np.float32) / np.float32(max_exact))
  large = large / np.float32(math.log(max_distance / max_exact)) * np.float32(half - max_exact)
  large = np.minimum((max_exact + large).astype(np.int64), half - 1)
  return buckets + np.where(rel < max_exact, rel, large)


class GatedRelativePositionBias(nn.Module):
  """WavLM's per-layer gate on the shared relative position bias (the torch module's
  `gru_rel_pos_linear`, `gru_rel_pos_const` and, in layer 0, `rel_attn_embed`).

  `__call__(x, bias)`: `x` is the attention's input [B, T, D]; `bias` is the ungated bias
  [H, T, T] from layer 0 (None in layer 0, which computes it). Returns (gated bias
  [B, H, T, T], ungated bias).
  """

  num_heads: int
  num_buckets: int
  max_distance: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, bias: jnp.ndarray | None):
    if bias is None:
      table = nn.Embed(self.num_buckets, self.num_heads, name="rel_attn_embed")
      index = relative_position_buckets(x.shape[1], self.num_buckets, self.max_distance)
      bias = jnp.transpose(table(jnp.asarray(index)), (2, 0, 1)).astype(jnp.float32)
    heads = jnp.swapaxes(attn_lib.split_heads(x, self.num_heads), 1, 2)  # [B, H, T, hd]
    proj = attn_lib.dense(8, "gru_rel_pos_linear", self.dtype)(heads).astype(jnp.float32)
    proj = jax.nn.sigmoid(proj.reshape(proj.shape[:-1] + (2, 4)).sum(-1))
    const = self.param("gru_rel_pos_const", nn.initializers.ones, (1, self.num_heads, 1, 1))
    gate = proj[..., :1] * (proj[..., 1:] * const - 1.0) + 2.0  # [B, H, T, 1]
    return gate * bias[None], bias


class EncoderLayer(nn.Module):
  """One Transformer layer, post-LN (base) or pre-LN (`layer_norm_first`); with
  `num_buckets` > 0, WavLM's gated relative position bias is added to the attention logits.

  `__call__(x, bias, train) -> (x, bias)`: `bias` is the ungated WavLM bias that layer 0
  computes and every later layer reuses (None throughout without one).
  """

  num_heads: int
  ff_dim: int
  layer_norm_first: bool
  eps: float
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0
  num_buckets: int = 0
  max_distance: int = 800

  @nn.compact
  def __call__(self, x: jnp.ndarray, bias: jnp.ndarray | None = None, train: bool = False):
    attention = attn_lib.SelfAttention(self.num_heads, "out_proj", self.dtype,
                                       self.attention_dropout, name="attention")
    ln = attn_lib.layer_norm(self.eps, "layer_norm")
    final_ln = attn_lib.layer_norm(self.eps, "final_layer_norm")
    ff = attn_lib.FeedForward(self.ff_dim, ("intermediate_dense", "output_dense"), self.dtype,
                              self.dropout, name="feed_forward")

    def attend(y):
      gated = None
      if self.num_buckets:
        gated, ungated = GatedRelativePositionBias(
            self.num_heads, self.num_buckets, self.max_distance, self.dtype, name="rel_pos")(
                y, bias)
      else:
        ungated = None
      return attn_lib.dropout(attention(y, gated, train=train), self.dropout, train), ungated

    if self.layer_norm_first:
      y, bias = attend(ln(x))
      x = x + y
      return x + ff(final_ln(x), train), bias
    y, bias = attend(x)
    x = ln(x + y)
    return final_ln(x + ff(x, train)), bias


class PositionalConvStack(nn.Module):
  """data2vec-audio's positional embedding: `layers` PositionalConvEmbedding layers (with LayerNorm) in sequence."""

  layers: int
  kernel: int
  groups: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    for i in range(self.layers):
      x = PositionalConvEmbedding(self.kernel, self.groups, self.dtype, eps=self.eps,
                                  name=f"layers_{i}")(x)
    return x


class Encoder(nn.Module):
  """Positional conv + Transformer layers (the `encoder` of transformers' HubertModel)."""

  num_layers: int
  num_heads: int
  ff_dim: int
  pos_conv_kernel: int
  pos_conv_groups: int
  layer_norm_first: bool
  eps: float
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0
  layer_drop: float = 0.0
  pos_conv_layers: int = 0
  num_buckets: int = 0
  max_distance: int = 800

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    if self.pos_conv_layers:
      pos = PositionalConvStack(self.pos_conv_layers, self.pos_conv_kernel, self.pos_conv_groups,
                                self.eps, self.dtype, name="pos_conv_embed")
    else:
      pos = PositionalConvEmbedding(self.pos_conv_kernel, self.pos_conv_groups, self.dtype,
                                    name="pos_conv_embed")
    x = x + pos(x)
    ln = attn_lib.layer_norm(self.eps, "layer_norm")
    if not self.layer_norm_first:
      x = ln(x)
    x = attn_lib.dropout(x, self.dropout, train)
    bias = None
    for i in range(self.num_layers):
      y, bias = EncoderLayer(self.num_heads, self.ff_dim, self.layer_norm_first, self.eps,
                             self.dtype, self.dropout, self.attention_dropout, self.num_buckets,
                             self.max_distance, name=f"layers_{i}")(x, bias, train)
      # WavLM never drops layer 0, which computes the position bias every layer uses.
      if train and self.layer_drop > 0.0 and not (self.num_buckets and i == 0):
        # LayerDrop (torchaudio): the whole batch skips this layer with prob. layer_drop. The
        # layer is still computed (a select, not a branch): static shapes, one compile.
        skip = jax.random.bernoulli(self.make_rng("dropout"), self.layer_drop)
        y = jnp.where(skip, x, y)
      x = y
    return ln(x) if self.layer_norm_first else x


class HuBERT(nn.Module):
  """The wav2vec 2.0-family encoder. Input [B, samples] float waveform at 16 kHz.

  Attributes:
    conv_layers: (channels, kernel, stride) per feature-encoder conv.
    extractor_mode: "group_norm" (base: GroupNorm on the first conv) or "layer_norm" (large).
    conv_bias: whether the feature-encoder convs have a bias (False for HuBERT/AVES).
    embed_dim, num_layers, num_heads, ff_dim: Transformer width/depth/heads/MLP width.
    pos_conv_kernel, pos_conv_groups: positional conv (128, 16 for base).
    layer_norm_first: False for base (post-LN), True for the large "stable layer norm" models.
    layer_norm_eps: eps of every LayerNorm (1e-5 in fairseq, torchaudio and HF's HuBERT).
    pos_conv_layers: 0 for the one weight-normed positional conv (HuBERT, wav2vec 2.0,
      WavLM); n > 0 for data2vec-audio's stack of n convs of kernel `pos_conv_kernel`.
    num_buckets, max_distance: WavLM's relative position bias (0 buckets: none).
    dropout, attention_dropout, projection_dropout, layer_drop: train-mode regularisation
      (module docstring); 0 by default, the AVES values come from the zoo preset.
  """

  conv_layers: Sequence[tuple[int, int, int]] = BASE_CONV_LAYERS
  extractor_mode: str = "group_norm"
  conv_bias: bool = False
  embed_dim: int = 768
  num_layers: int = 12
  num_heads: int = 12
  ff_dim: int = 3072
  pos_conv_kernel: int = 128
  pos_conv_groups: int = 16
  layer_norm_first: bool = False
  layer_norm_eps: float = 1e-5
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0
  projection_dropout: float = 0.0
  layer_drop: float = 0.0
  pos_conv_layers: int = 0
  num_buckets: int = 0
  max_distance: int = 800

  @nn.compact
  def __call__(self, waveform: jnp.ndarray, train: bool = False):
    if waveform.ndim != 2:
      raise ValueError(f"HuBERT expects waveforms [B, samples], got shape {waveform.shape}; "
                       "use the 'waveform16k' recipe (mono, 16 kHz).")
    receptive = 1
    for _, kernel, stride in reversed(tuple(self.conv_layers)):
      receptive = (receptive - 1) * stride + kernel
    if waveform.shape[1] < receptive:
      raise ValueError(f"waveform of {waveform.shape[1]} samples is shorter than the feature "
                       f"encoder's receptive field ({receptive} samples); pad or lengthen it.")
    features = FeatureExtractor(tuple(self.conv_layers), self.extractor_mode, self.conv_bias,
                                self.dtype, name="feature_extractor")(waveform)
    x = FeatureProjection(self.embed_dim, self.layer_norm_eps, self.dtype,
                          self.projection_dropout, name="feature_projection")(features, train)
    x = Encoder(self.num_layers, self.num_heads, self.ff_dim, self.pos_conv_kernel,
                self.pos_conv_groups, self.layer_norm_first, self.layer_norm_eps, self.dtype,
                self.dropout, self.attention_dropout, self.layer_drop, self.pos_conv_layers,
                self.num_buckets, self.max_distance, name="encoder")(x, train)
    embedding = jnp.mean(x.astype(jnp.float32), axis=1)
    return x, {"embedding": embedding, "pre_logits": embedding, "last_hidden_state": x,
               "extract_features": features}


# HuBERT-base == AVES (earthspecies/aves config/default_cfg_aves-base-all.json: group_norm,
# conv_bias false, 768, 12 layers, 12 heads, 3072, pos conv 128/16, post-LN).
_BASE = dict(conv_layers=BASE_CONV_LAYERS, extractor_mode="group_norm", conv_bias=False,
             embed_dim=768, num_layers=12, num_heads=12, ff_dim=3072, pos_conv_kernel=128,
             pos_conv_groups=16, layer_norm_first=False)
ARCHS = {
    "hubert_base": _BASE,
    # facebook/wav2vec2-base config.json: the same network as HuBERT-base.
    "wav2vec2_base": _BASE,
    # microsoft/wavlm-base-plus config.json: num_buckets 320, max_bucket_distance 800.
    "wavlm_base_plus": dict(_BASE, num_buckets=320, max_distance=800),
    # facebook/data2vec-audio-base config.json: LayerNorm'd convs without bias, 5 positional
    # convs of kernel 19 (conv_pos_kernel_size) in 16 groups.
    "data2vec_audio_base": dict(_BASE, extractor_mode="layer_norm", pos_conv_kernel=19,
                                pos_conv_layers=5),
    # BirdAVES large (earthspecies/aves config/default_cfg_birdaves-biox-large.json): HuBERT-large
    # widths (1024, 24 layers, 16 heads, 4096) on the *base* layout: group_norm extractor without
    # conv bias and post-LN layers (encoder_layer_norm_first false), unlike HuBERT-large.
    "birdaves_large": dict(_BASE, embed_dim=1024, num_layers=24, num_heads=16, ff_dim=4096),
}


def build(arch: str = "hubert_base", **overrides) -> HuBERT:
  return HuBERT(**{**ARCHS[arch], **overrides})
