"""CLAP's audio encoder (HTS-AT) with its audio projection, as transformers' ClapAudioModelWithProjection.

The network of `laion/clap-htsat-unfused` (and BioLingual, same layout), from the log-mel that
the `clap_logmel` recipe computes (ClapFeatureExtractor, audio/recipes/clap.py):
  1. `batch_norm`: BatchNorm over the mel bins (torch applies BatchNorm2d(64) to the mel
     transposed so that bins are channels).
  2. reshape_mel2img: frames resized to spec_size * freq_ratio (1001 -> 1024 at full size) with
     torch's bicubic interpolation (align_corners=True, A = -0.75; here one numpy matrix,
     `bicubic_resize_matrix`), then the [1024, 64] spectrogram folded into a 256 x 256 image:
     the time axis is cut into freq_ratio = 4 chunks stacked along frequency
     (image row k * 64 + f, column t holds frame k * 256 + t, bin f).
  3. A Swin transformer in transformers' layout: 4x4/4 patch conv + LayerNorm, stages of
     shifted-window blocks (depths 2/2/6/2, heads 4/8/16/32, window 8), patch merging between
     stages. The blocks and the merging are models/swin_layers.py's: transformers' Swin matches
     torchvision's where HTS-AT runs it (patch merging concatenates the 2x2 neighbours in the
     same order (0,0), (1,0), (0,1), (1,1); the same relative-position table and index; the same
     -100 shifted-window mask and padding). The one rule that differs, transformers' "no shift
     and a window shrunk to the map when the map is no larger than the window", coincides with
     torchvision's on HTS-AT's square maps when the map equals the window, and a map smaller
     than the window fails in transformers itself (its bias table no longer fits), so it is an
     error here. transformers' separate query/key/value Linears are ported into the fused
     `qkv` (porting/clap.py).
  4. Final LayerNorm, mean over all tokens (transformers regroups the tokens before its
     AdaptiveAvgPool1d; a permutation, so the mean is the same): `pooler`, 768-d.
  5. `audio_projection`: Linear 768 -> 512, ReLU, Linear 512 -> 512: `audio_embeds`.
The embedding is ClapModel.get_audio_features's output, `audio_embeds` L2-normalised
(F.normalize, eps 1e-12): the 512-d vector CLAP (and BioLingual) compares with text, and the
one their users take for audio-only tasks. The fused variant (laion/clap-htsat-fused: a
4-channel input and an attentional feature-fusion block) is not implemented; its checkpoint's
fusion tensors are named by the porter.

Module names follow transformers' keys where they can (`layers_0_blocks_1`,
`layers_2_downsample`); the porter holds the few renames.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.models import attention as attn_lib
from bioacoustics_jax.models import swin_layers as swin
from bioacoustics_jax.models import torch_compatible_layers as tl

_LN_EPS = 1e-5  # ClapAudioConfig.layer_norm_eps; nn.LayerNorm's default for the others
_BICUBIC_A = -0.75  # torch's upsample_bicubic2d


def _cubic_weights(t: np.ndarray) -> np.ndarray:
  """[..., 4] weights of the taps at floor - 1 .. floor + 2 for fractional offsets `t`."""
  a = _BICUBIC_A
  near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # |x| <= 1
  far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # 1 < |x| < 2
  return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def bicubic_resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out, in] float32 matrix M with M @ x == torch F.interpolate(mode="bicubic",
  align_corners=True) of x along one axis (taps clamped to the edges, as torch does)."""
  scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
  src = scale * np.arange(out_size, dtype=np.float64)
  base = np.floor(src)
  weights = _cubic_weights(src - base)
  taps = np.clip(base[:, None].astype(np.int64) + np.arange(-1, 3)[None, :], 0, in_size - 1)
  out = np.zeros((out_size, in_size), np.float64)
  np.add.at(out, (np.repeat(np.arange(out_size), 4), taps.reshape(-1)), weights.reshape(-1))
  return out.astype(np.float32)


def mel_to_image(mel: jnp.ndarray, spec_size: int, freq_ratio: int) -> jnp.ndarray:
  """transformers' reshape_mel2img on [B, frames, bins] -> NHWC [B, spec_size, spec_size, 1]."""
  b, frames, bins = mel.shape
  width, height = spec_size * freq_ratio, spec_size // freq_ratio
  if frames > width or bins != height:
    raise ValueError(f"CLAP's HTS-AT takes at most {width} frames of {height} mel bins, got "
                     f"{frames} x {bins}; use recipe 'clap_logmel' (10 s at 48 kHz).")
  if frames < width:
    mel = jnp.einsum("ot,btf->bof", jnp.asarray(bicubic_resize_matrix(frames, width)), mel,
                     precision=jax.lax.Precision.HIGHEST)
  image = mel.reshape(b, freq_ratio, width // freq_ratio, bins).transpose(0, 1, 3, 2)
  return image.reshape(b, freq_ratio * bins, width // freq_ratio, 1)


class HTSAT(nn.Module):
  """CLAP's audio tower + projection. Input: log-mel [B, frames, mel bins]; returns
  (audio_embeds, intermediates with "embedding", "pooler", "feature_map", "pre_logits").

  Attributes:
    embed_dim: patch-embedding width (ClapAudioConfig.patch_embeds_hidden_size, 96); stage i
      has embed_dim * 2**i channels, the last one hidden_size (768).
    depths / num_heads: blocks and heads per stage ((2, 2, 6, 2), (4, 8, 16, 32)).
    window_size: square attention window (8).
    spec_size: side of the folded image (256); num_mel_bins (64) sets freq_ratio.
    patch_size / patch_stride: patch conv (4, stride 4; padding (patch - stride) // 2).
    projection_dim: the projection's width (512).
    stochastic_depth_prob: transformers' drop_path_rate (linear over all blocks).
    mlp_dropout: ClapAudioConfig.hidden_dropout_prob, on each MLP's output (train only).
    dtype / bn_axis_name: compute dtype; mapped axis for cross-replica BatchNorm.
  """

  embed_dim: int = 96
  depths: Sequence[int] = (2, 2, 6, 2)
  num_heads: Sequence[int] = (4, 8, 16, 32)
  window_size: int = 8
  spec_size: int = 256
  num_mel_bins: int = 64
  patch_size: int = 4
  patch_stride: int = 4
  mlp_ratio: float = 4.0
  projection_dim: int = 512
  stochastic_depth_prob: float = 0.0
  mlp_dropout: float = 0.0
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    if x.ndim != 3 or x.shape[-1] != self.num_mel_bins:
      raise ValueError(f"CLAP's HTS-AT takes log-mel [B, frames, {self.num_mel_bins}], got "
                       f"shape {x.shape}; use recipe 'clap_logmel'.")
    if len(self.depths) != len(self.num_heads):
      raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} differ in length")
    x = tl.BatchNorm(dtype=jnp.float32, axis_name=self.bn_axis_name, name="batch_norm")(
        x.astype(jnp.float32), train)
    x = mel_to_image(x, self.spec_size, self.spec_size // self.num_mel_bins)
    pad = (self.patch_size - self.patch_stride) // 2
    x = nn.Conv(self.embed_dim, (self.patch_size,) * 2, strides=(self.patch_stride,) * 2,
                padding=((pad, pad), (pad, pad)), dtype=self.dtype,
                name="patch_embed_proj")(x.astype(self.dtype))
    x = attn_lib.layer_norm(_LN_EPS, "patch_embed_norm")(x)

    window, total, block_id = self.window_size, sum(self.depths), 0
    for stage, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
      if min(x.shape[1], x.shape[2]) < window:
        raise ValueError(f"Stage {stage}'s {x.shape[1]}x{x.shape[2]} map is smaller than the "
                         f"{window}x{window} window, which transformers' CLAP cannot run either; "
                         "use a larger spec_size or a smaller window_size.")
      no_shift = min(x.shape[1], x.shape[2]) <= window
      for j in range(depth):
        shift = 0 if (j % 2 == 0 or no_shift) else window // 2
        rate = self.stochastic_depth_prob * block_id / max(total - 1, 1)
        x = swin.SwinBlock(heads, (window, window), (shift, shift), self.mlp_ratio, rate,
                           self.dtype, self.mlp_dropout,
                           name=f"layers_{stage}_blocks_{j}")(x, train)
        block_id += 1
      if stage < len(self.depths) - 1:
        x = swin.PatchMerging(self.dtype, name=f"layers_{stage}_downsample")(x)
    feature_map = attn_lib.layer_norm(_LN_EPS, "norm")(x)
    pooler = jnp.mean(feature_map.astype(jnp.float32), axis=(1, 2))
    y = attn_lib.dense(self.projection_dim, "audio_projection_linear1", jnp.float32)(pooler)
    audio_embeds = attn_lib.dense(self.projection_dim, "audio_projection_linear2",
                                  jnp.float32)(nn.relu(y))
    norm = jnp.linalg.norm(audio_embeds, axis=-1, keepdims=True)
    embedding = audio_embeds / jnp.maximum(norm, 1e-12)
    return audio_embeds, {"feature_map": feature_map, "pooler": pooler, "pre_logits": pooler,
                          "audio_embeds": audio_embeds, "embedding": embedding}


ARCHS = {
    # laion/clap-htsat-unfused's audio_config (transformers' ClapAudioConfig defaults).
    "clap_htsat": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(4, 8, 16, 32),
                       window_size=8, spec_size=256, num_mel_bins=64, patch_size=4,
                       patch_stride=4, projection_dim=512),
}


def build(arch: str = "clap_htsat", **overrides) -> HTSAT:
  return HTSAT(**{**ARCHS[arch], **overrides})
