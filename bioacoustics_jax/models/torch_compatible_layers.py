"""Flax layers that reproduce PyTorch's numerics where Flax's defaults differ.

Ported weights only give the same outputs if every layer computes what its torch counterpart
computes. Three places differ from stock Flax and matter for parity:
  * BatchNorm: torch updates `running_var` with the *unbiased* batch variance (n / (n - 1));
    `flax.linen.BatchNorm` uses the biased one, so running stats would drift from torch's.
  * AdaptiveAvgPool2d: torch's bins are [floor(i * in / out), ceil((i + 1) * in / out)), which
    overlap when `in` is not a multiple of `out`; no Flax layer does this.
  * Initialisers: random-init models (the paper's rn18/rn50/rn152) should start from torch's
    distributions, e.g. Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias, which needs fan_in.
Everything is NHWC.

One place goes beyond torch, because the suite pads batches (static shapes, one compile):
`batch_norm_context(mask=..., momentum=...)` tells every BatchNorm traced inside it which rows
are real (padded rows then never enter the batch moments, so a padded batch normalises and
updates the running statistics exactly like its real rows alone) and, for BN recalibration
("precise BN"), overrides the running-average momentum. It is a trace-time context rather than
a `mask` argument threaded through every block of every model: the train step sets it once
around `module.apply`, and models need no change. Outside the context nothing differs.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from typing import Any, Iterator, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

# torch.nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu"): untruncated normal.
kaiming_normal_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
# torch's default Conv/Linear weight init, kaiming_uniform_(a=sqrt(5)) == U(+-1/sqrt(fan_in)).
torch_default_kernel = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def uniform_bias(fan_in: int):
  """torch's default bias init for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def torch_dense(x: jnp.ndarray, features: int, name: str, dtype: Dtype = jnp.float32,
                kernel_init=torch_default_kernel, bias_init=None) -> jnp.ndarray:
  """`nn.Linear(x.shape[-1], features)` with torch's default init (bias bound needs fan_in).

  Must be called inside a compact method: it creates the submodule `name` there.
  """
  if bias_init is None:
    bias_init = uniform_bias(x.shape[-1])
  return nn.Dense(features, dtype=dtype, kernel_init=kernel_init, bias_init=bias_init,
                  name=name)(x)


def torch_conv(features: int, kernel: int, stride: int = 1, padding: int | None = None,
               groups: int = 1, use_bias: bool = False, name: str | None = None,
               dtype: Dtype = jnp.float32, kernel_init=kaiming_normal_fan_out,
               bias_init=nn.initializers.zeros) -> nn.Conv:
  """`nn.Conv2d(..., padding=kernel // 2)` with explicit symmetric padding, like torch.

  Flax's "SAME" pads asymmetrically for even inputs and stride 2; torch pads both sides equally.
  """
  pad = kernel // 2 if padding is None else padding
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((pad, pad), (pad, pad)), feature_group_count=groups,
                 use_bias=use_bias, dtype=dtype, kernel_init=kernel_init,
                 bias_init=bias_init, name=name)


@dataclasses.dataclass(frozen=True)
class BatchNormContext:
  """What the BatchNorm layers traced inside `batch_norm_context` should do in train mode.

  Attributes:
    mask: bool [B], the rows that count (None: all). Moments are over the True rows only.
    momentum: overrides every layer's momentum (Flax convention, weight of the old value);
      0.0 makes the running statistics exactly this batch's (used to recalibrate them).
  """

  mask: Any = None
  momentum: float | None = None


_CONTEXT: contextvars.ContextVar[BatchNormContext] = contextvars.ContextVar(
    "batch_norm_context", default=BatchNormContext())


@contextlib.contextmanager
def batch_norm_context(mask: Any = None, momentum: float | None = None
                       ) -> Iterator[BatchNormContext]:
  """Sets the row mask / momentum override for BatchNorm layers traced inside the block."""
  token = _CONTEXT.set(BatchNormContext(mask=mask, momentum=momentum))
  try:
    yield _CONTEXT.get()
  finally:
    _CONTEXT.reset(token)


class BatchNorm(nn.Module):
  """torch.nn.BatchNorm2d over the last (channel) axis, train and eval, with torch's stats.

  Attributes:
    momentum: Flax convention (weight of the old running value): torch's momentum=0.1 is 0.9.
    epsilon: torch's eps (1e-5 by default; torchvision EfficientNet uses 1e-3).
    axis_name: if set, batch statistics are averaged over this mapped axis (pmap/shard_map)
      so data-parallel training sees the global batch, like torch's SyncBatchNorm.
  """

  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: Dtype = jnp.float32
  axis_name: str | None = None
  scale_init: Any = nn.initializers.ones

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    features = x.shape[-1]
    scale = self.param("scale", self.scale_init, (features,), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
    ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((features,), jnp.float32))
    ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((features,), jnp.float32))

    if train:
      context = _CONTEXT.get()
      if context.mask is None:
        mean, var, count = self._moments(x)
      else:
        mean, var, count = self._masked_moments(x, context.mask)
      if not self.is_initializing():
        unbiased = var * (count / jnp.maximum(count - 1, 1))
        m = self.momentum if context.momentum is None else context.momentum
        ra_mean.value = m * ra_mean.value + (1.0 - m) * mean
        ra_var.value = m * ra_var.value + (1.0 - m) * unbiased
    else:
      mean, var = ra_mean.value, ra_var.value

    mul = scale * jax.lax.rsqrt(var + self.epsilon)
    # Folded into one multiply-add: fewer passes over the activation than (x - mean) / std.
    y = x.astype(jnp.float32) * mul + (bias - mean * mul)
    return y.astype(self.dtype)


  def _moments(self, x: jnp.ndarray):
    # Statistics in float32 whatever the compute dtype: bf16 sums lose too much.
    x32 = x.astype(jnp.float32)
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x32, axes)
    count = math.prod(x.shape[:-1])
    if self.axis_name is not None:
      mean = jax.lax.pmean(mean, self.axis_name)
      count = count * jax.lax.psum(1, self.axis_name)
    # Two-pass variance (not E[x^2] - E[x]^2): no cancellation, so it matches torch closely.
    var = jnp.mean(jnp.square(x32 - mean), axes)
    if self.axis_name is not None:
      var = jax.lax.pmean(var, self.axis_name)
    return mean, var, count

  def _masked_moments(self, x: jnp.ndarray, mask: Any):
    # Sums and counts over the real rows (psum-ed over replicas), then divided: devices may
    # hold different numbers of real rows, so a pmean of per-device means would be wrong.
    if mask.shape != x.shape[:1]:
      raise ValueError(f"BatchNorm row mask has shape {mask.shape}, activations {x.shape}: "
                       "the mask must have one entry per row of the batch.")
    x32 = x.astype(jnp.float32)
    axes = tuple(range(x.ndim - 1))
    w = mask.astype(jnp.float32).reshape((-1,) + (1,) * (x.ndim - 1))
    count = jnp.sum(mask.astype(jnp.float32)) * math.prod(x.shape[1:-1])
    total = jnp.sum(x32 * w, axes)
    if self.axis_name is not None:
      total = jax.lax.psum(total, self.axis_name)
      count = jax.lax.psum(count, self.axis_name)
    mean = total / jnp.maximum(count, 1.0)
    squares = jnp.sum(jnp.square(x32 - mean) * w, axes)
    if self.axis_name is not None:
      squares = jax.lax.psum(squares, self.axis_name)
    return mean, squares / jnp.maximum(count, 1.0), count


def drop_path(module: nn.Module, x: jnp.ndarray, rate: float, train: bool) -> jnp.ndarray:
  """torchvision StochasticDepth(rate, "row"): drop whole examples' residual branch in training.

  Identity in eval (and at rate 0, so no 'dropout' rng is needed unless it is switched on).
  """
  if not train or rate == 0.0:
    return x
  keep = 1.0 - rate
  mask = jax.random.bernoulli(module.make_rng("dropout"), keep, (x.shape[0],) + (1,) * (x.ndim - 1))
  return jnp.where(mask, x / keep, jnp.zeros_like(x))


def max_pool(x: jnp.ndarray, kernel: int, stride: int, padding: int = 0) -> jnp.ndarray:
  """torch.nn.MaxPool2d(kernel, stride, padding) (ceil_mode=False): pads with -inf."""
  return nn.max_pool(x, (kernel, kernel), strides=(stride, stride),
                     padding=((padding, padding), (padding, padding)))


def _bins(size: int, out: int) -> list[tuple[int, int]]:
  return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool(x: jnp.ndarray, output_size: int | Sequence[int]) -> jnp.ndarray:
  """torch.nn.AdaptiveAvgPool2d on NHWC: same (possibly overlapping) bins as torch.

  Shapes are static under jit, so the bins are Python ints and this is a handful of slices.
  """
  if isinstance(output_size, int):
    output_size = (output_size, output_size)
  out_h, out_w = output_size
  h, w = x.shape[1], x.shape[2]
  if (out_h, out_w) == (1, 1):
    return jnp.mean(x, axis=(1, 2), keepdims=True)
  if h % out_h == 0 and w % out_w == 0:
    # Equal, non-overlapping bins: one reshape-mean instead of out_h * out_w slices.
    y = x.reshape(x.shape[0], out_h, h // out_h, out_w, w // out_w, x.shape[3])
    return jnp.mean(y, axis=(2, 4))
  rows = []
  for h0, h1 in _bins(h, out_h):
    cols = [jnp.mean(x[:, h0:h1, w0:w1, :], axis=(1, 2)) for w0, w1 in _bins(w, out_w)]
    rows.append(jnp.stack(cols, axis=1))
  return jnp.stack(rows, axis=1)


def require_nhwc(x: jnp.ndarray, channels: int, model: str, recipe: str) -> None:
  """Fails early, naming the recipe that produces the right input, on a mis-shaped batch."""
  if x.ndim != 4 or x.shape[-1] != channels:
    raise ValueError(f"{model} expects NHWC input [B, H, W, {channels}], got shape "
                     f"{tuple(x.shape)}; use input recipe {recipe!r}.")


def flatten_nchw(x: jnp.ndarray) -> jnp.ndarray:
  """torch.flatten of an NCHW map, from our NHWC one: (C, H, W) order, as torch's Linear expects.

  Transposing the small pooled map keeps the ported Linear weight a plain transpose.
  """
  return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
