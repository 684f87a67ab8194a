"""Linear probe in JAX: L2-regularised logistic regression on frozen embeddings.

Features are z-scored with the training split's mean and standard deviation (BEANS' and
sklearn-pipeline practice; it also makes the regularisation strength mean the same for every
model). The objective is sklearn LogisticRegression's with C = `c`:
  0.5 ||W||^2 + C sum_i loss_i   (bias not penalised),
divided by C N so that it is an average (same minimiser). Single-label targets use softmax
cross-entropy (sklearn's multinomial); multi-hot targets (detection) one sigmoid per class
(one-vs-rest). It is minimised by optax L-BFGS, full batch, a fixed number of steps inside one
jitted lax.scan: at 100,000 x 1,024 x 20 classes a step is two [N, D] x [D, C] matmuls.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bioacoustics_jax.evaluate import precision



@dataclasses.dataclass(frozen=True)
class ProbeSettings:
  c: float = 1.0  # sklearn's default inverse regularisation strength
  steps: int = 100


@functools.partial(jax.jit, static_argnames=("multilabel", "steps"))
def _fit(x, targets, sample_weight, l2, multilabel: bool, steps: int):
  d, c = x.shape[1], targets.shape[1]
  params = dict(w=jnp.zeros((d, c), x.dtype), b=jnp.zeros((c,), x.dtype))
  total = jnp.sum(sample_weight)

  def loss_fn(p):
    logits = jnp.matmul(x, p["w"], precision=precision.matmul_precision()) + p["b"]
    if multilabel:
      per_example = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, targets), axis=1)
    else:
      per_example = optax.softmax_cross_entropy(logits, targets)
    return jnp.sum(sample_weight * per_example) / total + 0.5 * l2 * jnp.sum(p["w"] ** 2)

  opt = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(loss_fn)

  def step(carry, _):
    p, state = carry
    value, grad = value_and_grad(p, state=state)
    updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss_fn)
    return (optax.apply_updates(p, updates), state), value

  (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
  return params


@jax.jit
def _logits(x, params):
  return jnp.matmul(x, params["w"], precision=precision.matmul_precision()) + params["b"]


class LinearProbe:
  """fit(train x, targets) then scores(test x): logits [N, C] in the fitted class order."""

  def __init__(self, settings: ProbeSettings = ProbeSettings()):
    self.settings = settings

  def fit(self, x: np.ndarray, targets: np.ndarray, multilabel: bool,
          standardise_with: np.ndarray | None = None,
          sample_weight: np.ndarray | None = None) -> "LinearProbe":
    """`targets`: class indices [N] in [0, C), or 0/1 [N, C] (one-hot for single-label).

    `sample_weight` (0/1): rows with weight 0 are padding. Few-shot pads every draw to one size
    so that all shot counts share one compilation; the regularisation counts real rows only.

    `standardise_with`: embeddings whose mean/std z-score the features (default `x`); few-shot
    passes the whole train split (labels unused), since 1 example per class gives no usable std.
    """
    x = np.asarray(x, np.float32)
    reference = x if standardise_with is None else np.asarray(standardise_with, np.float32)
    self.mean = reference.mean(axis=0)
    self.scale = reference.std(axis=0)
    self.scale[self.scale < 1e-12] = 1.0  # a constant feature stays 0 instead of NaN
    targets = np.asarray(targets)
    if not multilabel and targets.ndim == 1:
      targets = np.eye(int(targets.max()) + 1, dtype=np.float32)[targets]
    weight = np.ones(len(x), np.float32) if sample_weight is None else np.asarray(
        sample_weight, np.float32)
    l2 = 1.0 / (self.settings.c * float(weight.sum()))
    self.params = _fit(jnp.asarray(self._standardise(x)), jnp.asarray(targets, jnp.float32),
                       jnp.asarray(weight), l2, bool(multilabel), int(self.settings.steps))
    return self

  def _standardise(self, x: np.ndarray) -> np.ndarray:
    return (np.asarray(x, np.float32) - self.mean) / self.scale

  def scores(self, x: np.ndarray) -> np.ndarray:
    return np.asarray(_logits(jnp.asarray(self._standardise(x)), self.params))
