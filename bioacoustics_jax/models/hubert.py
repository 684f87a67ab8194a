"""HuBERT / wav2vec 2.0 encoder in Flax, numerically identical to torchaudio's `wav2vec2_model`
and transformers' `HubertModel` (the two share the fairseq architecture; only key names differ).

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

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

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
  """Grouped Conv1d 'same'-padded by kernel // 2, last step dropped for even kernels, GELU."""

  kernel: int
  groups: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    pad = self.kernel // 2
    y = nn.Conv(x.shape[-1], (self.kernel,), padding=((pad, pad),),
                feature_group_count=self.groups, dtype=self.dtype, name="conv")(x)
    if self.kernel % 2 == 0:
      y = y[:, :-1]
    return attn_lib.gelu(y)


class EncoderLayer(nn.Module):
  num_heads: int
  ff_dim: int
  layer_norm_first: bool
  eps: float
  dtype: Any = jnp.float32
  dropout: float = 0.0
  attention_dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    attention = attn_lib.SelfAttention(self.num_heads, "out_proj", self.dtype,
                                       self.attention_dropout, name="attention")
    ln = attn_lib.layer_norm(self.eps, "layer_norm")
    final_ln = attn_lib.layer_norm(self.eps, "final_layer_norm")
    ff = attn_lib.FeedForward(self.ff_dim, ("intermediate_dense", "output_dense"), self.dtype,
                              self.dropout, name="feed_forward")
    attend = lambda y: attn_lib.dropout(attention(y, train=train), self.dropout, train)  # noqa: E731
    if self.layer_norm_first:
      x = x + attend(ln(x))
      return x + ff(final_ln(x), train)
    x = ln(x + attend(x))
    return final_ln(x + ff(x, train))


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

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    x = x + PositionalConvEmbedding(self.pos_conv_kernel, self.pos_conv_groups, self.dtype,
                                    name="pos_conv_embed")(x)
    ln = attn_lib.layer_norm(self.eps, "layer_norm")
    if not self.layer_norm_first:
      x = ln(x)
    x = attn_lib.dropout(x, self.dropout, train)
    for i in range(self.num_layers):
      y = EncoderLayer(self.num_heads, self.ff_dim, self.layer_norm_first, self.eps, self.dtype,
                       self.dropout, self.attention_dropout, name=f"layers_{i}")(x, train)
      if train and self.layer_drop > 0.0:
        # LayerDrop (torchaudio): the whole batch skips this layer with prob. layer_drop. The
        # layer is still computed (a select, not a branch): static shapes, one compile.
        skip = jax.random.bernoulli(self.make_rng("dropout"), self.layer_drop)
        y = jnp.where(skip, x, y)
      x = y
    return ln(x) if self.layer_norm_first else x


class HuBERT(nn.Module):
  """HuBERT / wav2vec 2.0 encoder. Input [B, samples] float waveform (16 kHz for AVES).

  Attributes:
    conv_layers: (channels, kernel, stride) per feature-encoder conv.
    extractor_mode: "group_norm" (base: GroupNorm on the first conv) or "layer_norm" (large).
    conv_bias: whether the feature-encoder convs have a bias (False for HuBERT/AVES).
    embed_dim, num_layers, num_heads, ff_dim: Transformer width/depth/heads/MLP width.
    pos_conv_kernel, pos_conv_groups: positional conv (128, 16 for base).
    layer_norm_first: False for base (post-LN), True for the large "stable layer norm" models.
    layer_norm_eps: eps of every LayerNorm (1e-5 in fairseq, torchaudio and HF's HuBERT).
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
                self.dropout, self.attention_dropout, self.layer_drop, name="encoder")(x, train)
    embedding = jnp.mean(x.astype(jnp.float32), axis=1)
    return x, {"embedding": embedding, "pre_logits": embedding, "last_hidden_state": x,
               "extract_features": features}


# HuBERT-base == AVES (earthspecies/aves config/default_cfg_aves-base-all.json: group_norm,
# conv_bias false, 768, 12 layers, 12 heads, 3072, pos conv 128/16, post-LN).
ARCHS = {
    "hubert_base": dict(conv_layers=BASE_CONV_LAYERS, extractor_mode="group_norm",
                        conv_bias=False, embed_dim=768, num_layers=12, num_heads=12,
                        ff_dim=3072, pos_conv_kernel=128, pos_conv_groups=16,
                        layer_norm_first=False),
}


def build(arch: str = "hubert_base", **overrides) -> HuBERT:
  return HuBERT(**{**ARCHS[arch], **overrides})
