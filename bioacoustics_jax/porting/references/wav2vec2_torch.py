"""An independent PyTorch wav2vec 2.0 / HuBERT encoder in torchaudio's `wav2vec2_model` layout.

torchaudio cannot be installed here (no build for the pinned torch), yet AVES ships its weights
as torchaudio state_dicts. This module rebuilds that model from the architecture description
(fairseq's wav2vec 2.0 / HuBERT, as torchaudio lays it out), written directly in torch ops
rather than reusing transformers' classes, so that parity against it is a second, independent
check of the Flax model, and so that its `state_dict()` has exactly the keys of an AVES
`.torchaudio.pt` file:

  feature_extractor.conv_layers.{i}.conv.weight         (+ .layer_norm.{weight,bias} on i=0)
  encoder.feature_projection.{layer_norm,projection}.{weight,bias}
  encoder.transformer.pos_conv_embed.conv.{bias,weight_g,weight_v}
  encoder.transformer.layer_norm.{weight,bias}
  encoder.transformer.layers.{j}.attention.{q,k,v,out}_proj.{weight,bias}
  encoder.transformer.layers.{j}.{layer_norm,final_layer_norm}.{weight,bias}
  encoder.transformer.layers.{j}.feed_forward.{intermediate,output}_dense.{weight,bias}

Eval-mode forward only (no dropout, LayerDrop or lengths), returning the last layer [B, T, D].
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class _ConvLayerBlock(nn.Module):

  def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, bias: bool,
               norm: str | None):
    super().__init__()
    self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, bias=bias)
    if norm == "group":
      self.layer_norm = nn.GroupNorm(out_ch, out_ch, affine=True)
    elif norm == "layer":
      self.layer_norm = nn.LayerNorm(out_ch)
    else:
      self.layer_norm = None
    self.norm = norm

  def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T]
    x = self.conv(x)
    if self.norm == "group":
      x = self.layer_norm(x)
    elif self.norm == "layer":
      x = self.layer_norm(x.transpose(1, 2)).transpose(1, 2)
    return F.gelu(x)


class _FeatureExtractor(nn.Module):

  def __init__(self, conv_layers: Sequence[tuple[int, int, int]], mode: str, bias: bool):
    super().__init__()
    blocks, in_ch = [], 1
    for i, (out_ch, kernel, stride) in enumerate(conv_layers):
      norm = ("group" if i == 0 else None) if mode == "group_norm" else "layer"
      blocks.append(_ConvLayerBlock(in_ch, out_ch, kernel, stride, bias, norm))
      in_ch = out_ch
    self.conv_layers = nn.ModuleList(blocks)

  def forward(self, waveform: torch.Tensor) -> torch.Tensor:
    x = waveform[:, None, :]
    for block in self.conv_layers:
      x = block(x)
    return x.transpose(1, 2)  # [B, T, C]


class _FeatureProjection(nn.Module):

  def __init__(self, in_features: int, embed_dim: int):
    super().__init__()
    self.layer_norm = nn.LayerNorm(in_features)
    self.projection = nn.Linear(in_features, embed_dim)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.projection(self.layer_norm(x))


class _PosConv(nn.Module):

  def __init__(self, embed_dim: int, kernel: int, groups: int):
    super().__init__()
    conv = nn.Conv1d(embed_dim, embed_dim, kernel, padding=kernel // 2, groups=groups)
    with warnings.catch_warnings():
      # The legacy API is deliberate: it yields the weight_g/weight_v keys AVES files hold.
      warnings.simplefilter("ignore", FutureWarning)
      self.conv = nn.utils.weight_norm(conv, name="weight", dim=2)
    self.trim = 1 if kernel % 2 == 0 else 0

  def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
    y = self.conv(x.transpose(1, 2))
    if self.trim:
      y = y[..., :-self.trim]
    return F.gelu(y).transpose(1, 2)


class _SelfAttention(nn.Module):

  def __init__(self, embed_dim: int, num_heads: int):
    super().__init__()
    self.num_heads = num_heads
    self.head_dim = embed_dim // num_heads
    self.q_proj = nn.Linear(embed_dim, embed_dim)
    self.k_proj = nn.Linear(embed_dim, embed_dim)
    self.v_proj = nn.Linear(embed_dim, embed_dim)
    self.out_proj = nn.Linear(embed_dim, embed_dim)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    b, t, c = x.shape

    def heads(proj):
      return proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    q, k, v = heads(self.q_proj), heads(self.k_proj), heads(self.v_proj)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
    return self.out_proj((weights @ v).transpose(1, 2).reshape(b, t, c))


class _FeedForward(nn.Module):

  def __init__(self, embed_dim: int, ff_dim: int):
    super().__init__()
    self.intermediate_dense = nn.Linear(embed_dim, ff_dim)
    self.output_dense = nn.Linear(ff_dim, embed_dim)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.output_dense(F.gelu(self.intermediate_dense(x)))


class _EncoderLayer(nn.Module):

  def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, layer_norm_first: bool):
    super().__init__()
    self.attention = _SelfAttention(embed_dim, num_heads)
    self.layer_norm = nn.LayerNorm(embed_dim)
    self.feed_forward = _FeedForward(embed_dim, ff_dim)
    self.final_layer_norm = nn.LayerNorm(embed_dim)
    self.layer_norm_first = layer_norm_first

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    if self.layer_norm_first:
      x = x + self.attention(self.layer_norm(x))
      return x + self.feed_forward(self.final_layer_norm(x))
    x = self.layer_norm(x + self.attention(x))
    return self.final_layer_norm(x + self.feed_forward(x))


class _Transformer(nn.Module):

  def __init__(self, embed_dim, num_layers, num_heads, ff_dim, pos_conv_kernel,
               pos_conv_groups, layer_norm_first):
    super().__init__()
    self.pos_conv_embed = _PosConv(embed_dim, pos_conv_kernel, pos_conv_groups)
    self.layer_norm = nn.LayerNorm(embed_dim)
    self.layers = nn.ModuleList(
        _EncoderLayer(embed_dim, num_heads, ff_dim, layer_norm_first)
        for _ in range(num_layers))
    self.layer_norm_first = layer_norm_first

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    x = x + self.pos_conv_embed(x)
    if not self.layer_norm_first:  # post-LN models normalise before the first layer ...
      x = self.layer_norm(x)
    for layer in self.layers:
      x = layer(x)
    return self.layer_norm(x) if self.layer_norm_first else x  # ... pre-LN ones after the last


class _Encoder(nn.Module):

  def __init__(self, in_features, embed_dim, **transformer_kwargs):
    super().__init__()
    self.feature_projection = _FeatureProjection(in_features, embed_dim)
    self.transformer = _Transformer(embed_dim, **transformer_kwargs)

  def forward(self, features: torch.Tensor) -> torch.Tensor:
    return self.transformer(self.feature_projection(features))


class Wav2Vec2Model(nn.Module):
  """torchaudio-layout wav2vec 2.0 / HuBERT encoder; `forward(waveform [B, S]) -> [B, T, D]`.

  Keyword arguments use models/hubert.py's names (conv_layers, extractor_mode, conv_bias,
  embed_dim, num_layers, num_heads, ff_dim, pos_conv_kernel, pos_conv_groups,
  layer_norm_first); `dtype` is accepted and ignored so Flax overrides pass straight through.
  """

  def __init__(self, conv_layers, extractor_mode="group_norm", conv_bias=False, embed_dim=768,
               num_layers=12, num_heads=12, ff_dim=3072, pos_conv_kernel=128, pos_conv_groups=16,
               layer_norm_first=False, layer_norm_eps=1e-5, dtype=None):
    super().__init__()
    del dtype
    if layer_norm_eps != 1e-5:
      raise ValueError("torchaudio's wav2vec2 uses LayerNorm eps 1e-5 throughout")
    if extractor_mode not in ("group_norm", "layer_norm"):
      raise ValueError(f"extractor_mode must be 'group_norm' or 'layer_norm', got {extractor_mode!r}")
    self.feature_extractor = _FeatureExtractor(conv_layers, extractor_mode, conv_bias)
    self.encoder = _Encoder(
        conv_layers[-1][0], embed_dim, num_layers=num_layers, num_heads=num_heads,
        ff_dim=ff_dim, pos_conv_kernel=pos_conv_kernel, pos_conv_groups=pos_conv_groups,
        layer_norm_first=layer_norm_first)

  def forward(self, waveform: torch.Tensor) -> torch.Tensor:
    return self.encoder(self.feature_extractor(waveform))
