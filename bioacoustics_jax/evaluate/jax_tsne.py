"""t-SNE in JAX: the "tsne" reducer's default implementation (evaluate/reduce.py, `tsne_impl`).

sklearn's TSNE (Barnes-Hut) spends ~13 ms per iteration on 1,000 points on one CPU core, and the
paper's notebook asks for 5,000 iterations; with 5 seeds and the half-sample intervals a t-SNE
setting would run ~15 of them. This is the same algorithm as sklearn's, computed exactly on the
dense N x N matrices in one jitted loop (cheap for the N of an evaluation set):
- affinities: squared euclidean distances to the min(N - 1, 3 perplexity + 1) nearest
  neighbours, a per-point bisection for the bandwidth that gives the perplexity (sklearn's
  rule: 100 steps, tolerance 1e-5 on the entropy), P = (P + P^T) / sum;
- initialisation: sklearn's (`random`: 1e-4 x standard normal from RandomState(seed); `pca`:
  the PCA projection scaled to a first-column standard deviation of 1e-4);
- optimisation: sklearn's gradient descent with gains (delta-bar-delta, min gain 0.01),
  early exaggeration 12 with momentum 0.5 for 250 iterations, then momentum 0.8 (each phase
  from zero momentum and unit gains); learning rate
  "auto" = max(N / 12 / 4, 50); the Student-t kernel with one degree of freedom (2-D).
Differences: the repulsion is exact (no Barnes-Hut tree, so no angle approximation) and every
iteration runs (sklearn stops early when its error has not improved for 300 iterations).
Agreement with sklearn is measured in experiments/perf/results/tsne_agreement_cpu.md. The result
depends only on the rows' order and the seed (one thread of XLA's CPU reductions is
deterministic), so the canonical order of evaluate/canonical.py keeps it order-invariant.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.evaluate import precision

EXAGGERATION = 12.0
EXPLORATION_ITERS = 250  # sklearn's early-exaggeration phase
_BISECTION_STEPS = 100
_ENTROPY_TOL = 1e-5
_MIN_GAIN = 0.01


def learning_rate(n: int, setting: str | float) -> float:
  """sklearn's "auto" rule (Belkina et al. 2019, with its factor 4), or the number given."""
  if setting == "auto":
    return max(n / EXAGGERATION / 4.0, 50.0)
  return float(setting)


@functools.partial(jax.jit, static_argnames=("neighbors",))
def affinities(x: jax.Array, perplexity: float, neighbors: int) -> jax.Array:
  """The symmetric joint probabilities P [N, N] (zero diagonal, summing to 1)."""
  hi = precision.matmul_precision()
  sq = jnp.sum(x * x, axis=1)
  d = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * jnp.matmul(x, x.T, precision=hi), 0.0)
  n = x.shape[0]
  d = jnp.where(jnp.eye(n, dtype=bool), jnp.inf, d)
  neg, idx = jax.lax.top_k(-d, neighbors)  # [N, k] nearest, self excluded
  dist = -neg
  target = jnp.log(perplexity)

  def conditional(beta):
    p = jnp.exp(-dist * beta[:, None])
    total = jnp.maximum(jnp.sum(p, axis=1), 1e-8)
    entropy = jnp.log(total) + beta * jnp.sum(dist * p, axis=1) / total
    return p / total[:, None], entropy

  def step(_, state):
    beta, low, high = state
    _, entropy = conditional(beta)
    too_flat = entropy > target  # entropy too high: sharpen (beta up)
    done = jnp.abs(entropy - target) <= _ENTROPY_TOL
    low = jnp.where(too_flat & ~done, beta, low)
    high = jnp.where(~too_flat & ~done, beta, high)
    up = jnp.where(jnp.isinf(high), beta * 2.0, (beta + high) / 2.0)
    down = jnp.where(jnp.isinf(low), beta / 2.0, (beta + low) / 2.0)
    beta = jnp.where(done, beta, jnp.where(too_flat, up, down))
    return beta, low, high

  ones = jnp.ones((n,), x.dtype)
  beta, _, _ = jax.lax.fori_loop(0, _BISECTION_STEPS, step,
                                 (ones, jnp.full((n,), -jnp.inf), jnp.full((n,), jnp.inf)))
  p_cond, _ = conditional(beta)
  p = jnp.zeros((n, n), x.dtype).at[jnp.arange(n)[:, None], idx].set(p_cond)
  p = p + p.T
  return p / jnp.maximum(jnp.sum(p), jnp.finfo(x.dtype).eps)


def _gradient(p: jax.Array, y: jax.Array) -> jax.Array:
  """d KL(P || Q) / d y for the one-degree-of-freedom Student-t kernel: 4 sum_j (p_ij - q_ij)
  w_ij (y_i - y_j), with w = 1 / (1 + |y_i - y_j|^2) and q = w / sum(w). Written as elementwise
  row sums (no N x N matmul), so XLA fuses each into one pass over P."""
  diff0 = y[:, None, 0] - y[None, :, 0]
  diff1 = y[:, None, 1] - y[None, :, 1]
  w = 1.0 / (1.0 + diff0 * diff0 + diff1 * diff1)
  z = jnp.sum(w) - y.shape[0]  # the diagonal's w_ii = 1 excluded
  a = (p - w / z) * w  # p_ii = 0; the diagonal's diff is 0, so it adds nothing below
  return 4.0 * jnp.stack([jnp.sum(a * diff0, axis=1), jnp.sum(a * diff1, axis=1)], axis=1)


@functools.partial(jax.jit, static_argnames=("iters",))
def _descend(p, y, update, gains, momentum, rate, iters: int):

  def step(_, state):
    y, update, gains = state
    grad = _gradient(p, y)
    same_sign = update * grad < 0.0
    gains = jnp.maximum(jnp.where(same_sign, gains + 0.2, gains * 0.8), _MIN_GAIN)
    update = momentum * update - rate * (grad * gains)
    return y + update, update, gains

  return jax.lax.fori_loop(0, iters, step, (y, update, gains))


def initial(x: np.ndarray, init: str, seed: int) -> np.ndarray:
  """sklearn's starting layout [N, 2] (float32) for `init` in ("random", "pca")."""
  if init == "random":
    return 1e-4 * np.random.RandomState(seed).standard_normal((len(x), 2)).astype(np.float32)
  if init == "pca":
    from sklearn.decomposition import PCA  # pylint: disable=g-import-not-at-top
    y = PCA(n_components=2, svd_solver="randomized", random_state=seed).fit_transform(x)
    y = y.astype(np.float32)
    return y / np.std(y[:, 0]) * 1e-4
  raise ValueError(f"tsne_init={init!r} is not one of 'random', 'pca'.")


def tsne(x: np.ndarray, perplexity: float, init: str, max_iter: int, rate: str | float,
         seed: int) -> np.ndarray:
  """The 2-D t-SNE layout [N, 2] of `x` [N, D] (N >= 3; perplexity < N: small_sets.py)."""
  x = np.asarray(x, np.float32)
  n = len(x)
  neighbors = int(min(n - 1, int(3.0 * perplexity + 1)))
  p = affinities(jnp.asarray(x), float(perplexity), neighbors)
  y = jnp.asarray(initial(x, init, seed))
  lr = learning_rate(n, rate)
  explore = min(EXPLORATION_ITERS, max_iter)
  # Each phase starts with no momentum and unit gains, as sklearn's two _gradient_descent calls.
  fresh = jnp.zeros_like(y), jnp.ones_like(y)
  y, _, _ = _descend(p * EXAGGERATION, y, *fresh, 0.5, lr, explore)
  if max_iter > explore:
    y, _, _ = _descend(p, y, *fresh, 0.8, lr, max_iter - explore)
  return np.asarray(y, np.float32)
