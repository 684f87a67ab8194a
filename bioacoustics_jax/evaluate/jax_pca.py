"""PCA in JAX: the "pca" reducer's device backend (evaluate/reduce.py chooses it by `backend`).

Embeddings [N, D] -> centred -> the D x D covariance (one jitted matmul, no N x N anywhere) ->
eigh -> the top components. When D > N the N x N Gram matrix is smaller and gives the same
projection. Signs follow sklearn's `svd_flip(u_based_decision=False)` (the largest-magnitude entry
of each component is positive), so the projection equals sklearn's PCA, not just up to sign.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.evaluate import precision


@functools.partial(jax.jit, static_argnames=("n_components",))
def _fit_transform(x: jax.Array, n_components: int) -> jax.Array:
  hi = precision.matmul_precision()
  xc = x - jnp.mean(x, axis=0, keepdims=True)
  n, d = xc.shape
  if d <= n:
    _, vectors = jnp.linalg.eigh(jnp.matmul(xc.T, xc, precision=hi))
    components = vectors[:, ::-1][:, :n_components].T  # [k, D], largest variance first
  else:
    # D > N: eigenvectors u of X X^T give the components X^T u / |X^T u|.
    _, u = jnp.linalg.eigh(jnp.matmul(xc, xc.T, precision=hi))
    v = jnp.matmul(xc.T, u[:, ::-1][:, :n_components], precision=hi).T
    components = v / jnp.maximum(jnp.linalg.norm(v, axis=1, keepdims=True), 1e-30)
  biggest = jnp.argmax(jnp.abs(components), axis=1)
  signs = jnp.sign(components[jnp.arange(n_components), biggest])
  components = components * jnp.where(signs == 0, 1.0, signs)[:, None]
  return jnp.matmul(xc, components.T, precision=hi)


def pca_fit_transform(x: np.ndarray, n_components: int) -> np.ndarray:
  """[N, D] -> [N, n_components] float32 principal-component scores (sklearn PCA's output)."""
  x = jnp.asarray(x, jnp.float32)
  k = int(min(n_components, x.shape[0], x.shape[1]))
  if k < 1:
    raise ValueError(f"pca_fit_transform needs n_components >= 1, got {n_components}")
  return np.asarray(_fit_transform(x, k))
