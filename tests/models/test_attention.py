"""The fused attention path (jax.nn.dot_product_attention, query chunks) against the formula.

The reference is written out in float64 numpy here, independent of the module's own
`reference_attend`, and every path must match it to 1e-5 in float32: plain, with a Swin-style
relative-position bias plus -100 window mask, with a per-example mask, and chunked.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bioacoustics_jax.models import attention
from bioacoustics_jax.models import swin_layers


def _formula(q, k, v, bias=None):
  q, k, v = (np.asarray(t, np.float64) for t in (q, k, v))
  logits = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
  if bias is not None:
    logits = logits + np.asarray(bias, np.float64)
  logits -= logits.max(-1, keepdims=True)
  w = np.exp(logits)
  w /= w.sum(-1, keepdims=True)
  out = np.einsum("bhqk,bkhd->bqhd", w, v)
  return out.reshape(out.shape[:2] + (-1,))


def _qkv(b, n, h, d, seed=0):
  rng = np.random.default_rng(seed)
  return tuple(rng.normal(0, 1.5, (b, n, h, d)).astype(np.float32) for _ in range(3))


def _swin_bias(batch, heads, seed=1):
  """Relative-position table gathered as Swin does, plus the shifted-window -100 mask, per
  window and batch-major ([B * nW, H, N, N])."""
  window, padded, shift = (3, 3), (6, 6), (1, 1)
  n = window[0] * window[1]
  table = np.random.default_rng(seed).normal(0, 1, ((2 * 3 - 1) ** 2, heads)).astype(np.float32)
  rel = table[swin_layers.relative_position_index(window)].reshape(n, n, heads).transpose(2, 0, 1)
  mask = swin_layers.shifted_window_mask(padded, window, shift)  # [nW, N, N]
  bias = rel[None, None] + mask[None, :, None]
  bias = np.broadcast_to(bias, (batch,) + bias.shape[1:])
  return bias.reshape((-1,) + bias.shape[2:]), n, mask.shape[0]


@pytest.mark.parametrize("chunked", [False, True])
def test_plain_attention_matches_the_formula(chunked):
  q, k, v = _qkv(2, 37, 4, 8)
  limit = 4 * 2 * 4 * 37 * 5 if chunked else None  # 5 query rows per chunk: 8 chunks, padded
  fn = lambda q, k, v: attention.attend(q, k, v, max_scores_bytes=limit)  # noqa: E731
  assert ("scan" in str(jax.make_jaxpr(fn)(q, k, v))) == chunked  # chunks are a sequential map
  out = jax.jit(fn)(q, k, v)
  assert out.shape == (2, 37, 32)
  np.testing.assert_allclose(out, _formula(q, k, v), atol=1e-5, rtol=0)


@pytest.mark.parametrize("chunked", [False, True])
def test_swin_bias_and_window_mask_match_the_formula(chunked):
  bias, n, windows = _swin_bias(batch=2, heads=3)
  q, k, v = _qkv(2 * windows, n, 3, 8, seed=3)
  limit = 4 * 2 * windows * 3 * n * 2 if chunked else None
  out = jax.jit(lambda *a: attention.attend(*a, max_scores_bytes=limit))(q, k, v, bias)
  np.testing.assert_allclose(out, _formula(q, k, v, bias), atol=1e-5, rtol=0)
  # The mask really masks: without it the result is different.
  unmasked = bias + 100 * (bias < -50)
  assert np.abs(np.asarray(out) - _formula(q, k, v, unmasked)).max() > 1e-3


def test_a_broadcast_bias_and_a_boolean_style_mask():
  """A [H, Nq, Nk] bias (no batch axis) and a -inf-like key mask per example."""
  q, k, v = _qkv(3, 11, 2, 4, seed=5)
  rng = np.random.default_rng(6)
  bias = rng.normal(0, 1, (2, 11, 11)).astype(np.float32)
  keep = rng.random((3, 1, 1, 11)) > 0.3
  keep[..., 0] = True
  masked = np.where(keep, 0.0, -1e9).astype(np.float32) + bias[None]
  for b, want in ((bias, _formula(q, k, v, bias[None])), (masked, _formula(q, k, v, masked))):
    for limit in (None, 4 * 3 * 2 * 11 * 3):  # whole, and 3 query rows per chunk
      out = jax.jit(lambda *a, n=limit: attention.attend(*a, max_scores_bytes=n))(q, k, v, b)
      np.testing.assert_allclose(out, want, atol=1e-5, rtol=0)


def test_the_written_out_path_and_the_fused_path_agree():
  """reference_attend (dropout's path) is the same function as the fused one."""
  q, k, v = _qkv(2, 16, 2, 8, seed=7)
  bias = np.random.default_rng(8).normal(0, 1, (1, 2, 16, 16)).astype(np.float32)
  ref, fused = jax.jit(lambda *a: (attention.reference_attend(*a), attention.attend(*a)))(
      q, k, v, bias)
  np.testing.assert_allclose(fused, ref.reshape(fused.shape), atol=1e-6, rtol=0)


def test_bfloat16_stays_close_and_keeps_float32_softmax():
  q, k, v = _qkv(2, 24, 2, 16, seed=9)
  out = jax.jit(attention.attend)(*(jnp.asarray(t, jnp.bfloat16) for t in (q, k, v)))
  assert out.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(out, np.float32), _formula(q, k, v), atol=5e-2)


def test_cpu_uses_xla_and_gpu_bf16_would_use_cudnn():
  assert attention.fused_implementation(jnp.float32) is None
  want = "cudnn" if jax.default_backend() == "gpu" else None
  assert attention.fused_implementation(jnp.bfloat16) == want
