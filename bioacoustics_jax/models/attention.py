"""Transformer pieces shared by Swin, HuBERT, AST and Whisper, written to match PyTorch's numerics.

Two Flax defaults differ from torch and would break parity with ported weights:
  * `nn.LayerNorm`/`nn.GroupNorm` use the "fast" variance E[x^2] - E[x]^2, which cancels
    catastrophically when the mean is large relative to the spread; torch uses the two-pass
    variance. Every norm here sets `use_fast_variance=False`.
  * `nn.gelu` defaults to the tanh approximation; torch's `nn.GELU()` and transformers' "gelu"
    are the exact erf form.
Norm epsilons also differ per source (torch 1e-5, BERT-style HF models such as AST 1e-12), so
every caller passes its own.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

# torch's nn.Linear-as-used-by-transformers init (trunc normal 0.02); only matters when a model
# is trained from scratch, since parity and pretrained runs overwrite it with ported weights.
default_kernel_init = nn.initializers.truncated_normal(0.02)


def gelu(x: jnp.ndarray) -> jnp.ndarray:
  """Exact (erf) GELU, as torch.nn.GELU() and transformers' ACT2FN["gelu"]."""
  return nn.gelu(x, approximate=False)


def layer_norm(epsilon: float, name: str) -> nn.LayerNorm:
  """torch.nn.LayerNorm(eps=epsilon) over the last axis; statistics in float32."""
  return nn.LayerNorm(epsilon=epsilon, use_fast_variance=False, dtype=jnp.float32, name=name)


def dense(features: int, name: str, dtype: Dtype = jnp.float32, use_bias: bool = True,
          kernel_init=default_kernel_init) -> nn.Dense:
  return nn.Dense(features, use_bias=use_bias, dtype=dtype, kernel_init=kernel_init, name=name)


class FeedForward(nn.Module):
  """Linear -> exact GELU -> Linear back to the input width (the transformer MLP block).

  `names` are the two Linears' names, which follow each checkpoint's layout (AST's `fc1/fc2`,
  HuBERT's `intermediate_dense/output_dense`) so porting rules can key on them.
  """

  hidden: int
  names: tuple[str, str]
  dtype: Dtype = jnp.float32
  dropout: float = 0.0  # on the output, train mode only (fairseq/torchaudio `dropout`)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    y = gelu(dense(self.hidden, self.names[0], self.dtype)(x))
    return dropout(dense(x.shape[-1], self.names[1], self.dtype)(y), self.dropout, train)


def dropout(x: jnp.ndarray, rate: float, train: bool) -> jnp.ndarray:
  """torch's nn.Dropout(rate) in train mode (inverted scaling), identity otherwise.

  Builds no submodule at rate 0 or in eval mode, so the parameter tree and the eval graph are
  exactly those of the ported model and no 'dropout' rng is needed unless it is switched on.
  Must be called inside a compact method (nn.Dropout draws from the module's 'dropout' rng).
  """
  if not train or rate == 0.0:
    return x
  return nn.Dropout(rate, deterministic=False)(x)


def split_heads(x: jnp.ndarray, num_heads: int) -> jnp.ndarray:
  """[..., N, H*D] -> [..., N, H, D] (torch's `view(B, N, H, D)` channel order)."""
  return x.reshape(x.shape[:-1] + (num_heads, x.shape[-1] // num_heads))


# The XLA path materialises the float32 scores [B, H, Nq, Nk]; above this many bytes per call
# the queries are processed in sequential chunks (exact: each query row's softmax sees all keys),
# so e.g. full-size AST at float32 b256 (18 GiB of scores per layer) fits on one GPU.
MAX_SCORES_BYTES = 1 << 30


def reference_attend(q: jnp.ndarray, k: jnp.ndarray, v: jnp.ndarray,
                     bias: jnp.ndarray | None = None, weights_fn=None) -> jnp.ndarray:
  """The attention formula written out, softmax(q k^T / sqrt(d) + bias) v, on [B, N, H, D].

  Returns [B, N, H, D]. Used where a fused kernel cannot run (dropout on the attention weights,
  `weights_fn`) and by the tests as the definition the fused path must match.
  """
  scale = q.shape[-1] ** -0.5
  logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32) * scale
  if bias is not None:
    logits = logits + bias
  weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
  if weights_fn is not None:
    weights = weights_fn(weights)
  return jnp.einsum("bhqk,bkhd->bqhd", weights, v)


def fused_implementation(dtype) -> str | None:
  """`jax.nn.dot_product_attention`'s backend: cuDNN flash attention on a GPU for 16-bit
  inputs (the only dtypes it takes), else XLA (None)."""
  if jax.default_backend() == "gpu" and jnp.dtype(dtype) in (jnp.bfloat16, jnp.float16):
    return "cudnn"
  return None


def _fused(q, k, v, bias, implementation):
  if implementation == "cudnn":
    try:  # cuDNN rejects some shapes (head dims, bias layouts) while tracing: XLA then
      return jax.nn.dot_product_attention(
          q, k, v, bias=None if bias is None else bias.astype(q.dtype), implementation="cudnn")
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
      pass
  return jax.nn.dot_product_attention(q, k, v, bias=bias)


def _query_chunks(q, k, v, bias, max_scores_bytes):
  """XLA attention over sequential query chunks whose float32 scores fit `max_scores_bytes`."""
  b, t, h, _ = q.shape
  rows = max(1, max_scores_bytes // (4 * b * h * k.shape[1]))
  n = -(-t // rows)
  rows = -(-t // n)
  pad = n * rows - t
  qs = jnp.pad(q, ((0, 0), (0, pad), (0, 0), (0, 0)))
  qs = jnp.moveaxis(qs.reshape((b, n, rows) + q.shape[2:]), 1, 0)  # [n, B, rows, H, D]
  if bias is not None and bias.shape[2] != 1:
    bias = jnp.broadcast_to(bias, bias.shape[:2] + (t, bias.shape[3]))
    bs = jnp.pad(bias, ((0, 0), (0, 0), (0, pad), (0, 0)))
    bs = jnp.moveaxis(bs.reshape(bias.shape[:2] + (n, rows, bias.shape[3])), 2, 0)
    out = jax.lax.map(lambda a: jax.nn.dot_product_attention(a[0], k, v, bias=a[1]), (qs, bs))
  else:
    out = jax.lax.map(lambda a: jax.nn.dot_product_attention(a, k, v, bias=bias), qs)
  return jnp.moveaxis(out, 0, 1).reshape((b, n * rows) + q.shape[2:])[:, :t]


def attend(q: jnp.ndarray, k: jnp.ndarray, v: jnp.ndarray,
           bias: jnp.ndarray | None = None, weights_fn=None,
           max_scores_bytes: int | None = None) -> jnp.ndarray:
  """Softmax(q k^T / sqrt(d) + bias) v on [B, N, H, D] inputs; returns [B, N, H*D].

  `bias` broadcasts against the [B, H, Nq, Nk] logits (relative positions, window masks) and is
  float32 (a -100 mask or a bias table would round in bf16). Scores and softmax are float32
  whatever the compute dtype, since bf16 exponent sums lose too much. The work goes through
  `jax.nn.dot_product_attention` (cuDNN flash attention on a GPU in bf16, XLA elsewhere, query
  chunks past `max_scores_bytes`, default MAX_SCORES_BYTES); `weights_fn` (attention dropout,
  applied to the softmax weights before they weigh v) needs the weights, so it takes the
  written-out formula instead.
  """
  if bias is not None:
    bias = jnp.asarray(bias, jnp.float32)
    bias = bias.reshape((1,) * (4 - bias.ndim) + bias.shape)
  if weights_fn is not None:
    out = reference_attend(q, k, v, bias, weights_fn)
  else:
    implementation = fused_implementation(q.dtype)
    limit = MAX_SCORES_BYTES if max_scores_bytes is None else max_scores_bytes
    scores = 4 * q.shape[0] * q.shape[2] * q.shape[1] * k.shape[1]
    if implementation is None and scores > limit:
      out = _query_chunks(q, k, v, bias, limit)
    else:
      out = _fused(q, k, v, bias, implementation)
  return out.reshape(out.shape[:-2] + (-1,))


class SelfAttention(nn.Module):
  """Multi-head self-attention with separate q/k/v/out Linears (transformers/torchaudio layout).

  Attributes:
    num_heads: attention heads; the width is split evenly between them.
    out_name: name of the output projection, so Flax names mirror the torch keys (`out_proj` in
      HuBERT/torchaudio, `o_proj` in transformers' AST).
    dtype: compute dtype of the projections.
    attention_dropout: dropout on the attention weights in train mode (torch's
      `attention_dropout`/`dropout` of MultiheadAttention).
    key_bias: whether `k_proj` has a bias (Whisper's has none).
  """

  num_heads: int
  out_name: str = "out_proj"
  dtype: Dtype = jnp.float32
  attention_dropout: float = 0.0
  key_bias: bool = True

  @nn.compact
  def __call__(self, x: jnp.ndarray, bias: jnp.ndarray | None = None,
               train: bool = False) -> jnp.ndarray:
    width = x.shape[-1]
    if width % self.num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads={self.num_heads}")
    q, k, v = (split_heads(dense(width, f"{n}_proj", self.dtype,
                                 use_bias=self.key_bias or n != "k")(x), self.num_heads)
               for n in ("q", "k", "v"))
    weights_fn = None
    if train and self.attention_dropout > 0.0:
      weights_fn = lambda w: dropout(w, self.attention_dropout, train)  # noqa: E731
    return dense(width, self.out_name, self.dtype)(attend(q, k, v, bias, weights_fn))
