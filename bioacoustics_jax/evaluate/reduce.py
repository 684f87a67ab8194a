"""Dimensionality reduction before clustering: UMAP, PCA, t-SNE, or none, registered by name.

The paper's notebooks feed the raw embeddings to UMAP (no standardisation), so no reducer here
scales its input; a reducer sees exactly the extracted embedding. Every reducer is seeded, and
sizes that the libraries reject on small sets (UMAP's n_neighbors and spectral init, t-SNE's
perplexity, PCA's component count) are adapted to what N allows by evaluate/small_sets.py, which
also says what changed (the evaluator writes it into the row's note).

`backend="jax"` runs PCA on the device (evaluate/jax_pca.py, equal to sklearn to 1e-5). t-SNE runs
in JAX by default (`tsne_impl`, evaluate/jax_tsne.py: sklearn's algorithm, exact gradients). UMAP stays
umap-learn on the CPU: its cost grows ~N log N in the neighbour graph plus 200-500 epochs over
the edges (experiments/perf/results/evaluate_cpu.md has the measured time); `umap_fit_max_points`
fits it on a seeded sample of that many points and places the rest with `transform` (the usual
remedy at scale; the projection is then not identical to a full fit).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Callable

import numpy as np

from bioacoustics_jax import registry
from bioacoustics_jax.evaluate import small_sets


@dataclasses.dataclass(frozen=True)
class ReduceSettings:
  """Reducer hyper-parameters; the defaults are the paper's (PAPER.md, "Embedding analysis")."""

  seed: int = 42
  umap_n_neighbors: int = 50
  umap_min_dist: float = 0.5
  pca_dim: int = 2
  tsne_perplexity: float = 25.0
  # t-SNE: sklearn's defaults here; the paper's notebook used init="random", 5000 iterations,
  # learning_rate="auto" (beans_paper.py sets those).
  tsne_init: str = "pca"
  tsne_max_iter: int = 1000
  tsne_learning_rate: str | float = "auto"
  # "jax": evaluate/jax_tsne.py, sklearn's algorithm with exact gradients in one jitted loop
  # (the seeds x halves of a t-SNE setting affordable); "sklearn": sklearn.manifold.TSNE.
  tsne_impl: str = "jax"
  backend: str = "sklearn"  # "jax": PCA on the device
  umap_fit_max_points: int | None = None  # fit UMAP on a sample of this many, transform the rest
  umap_init: str = "spectral"  # umap-learn's default; small_sets.py switches tiny sets to random


Reducer = Callable[[np.ndarray, ReduceSettings], np.ndarray]
REDUCERS: registry.Registry[Reducer] = registry.Registry("reducer")
register_reducer = REDUCERS.add
names = REDUCERS.names
get_reducer = REDUCERS.__getitem__


def reduce(name: str, embeddings: np.ndarray, settings: ReduceSettings = ReduceSettings()
           ) -> np.ndarray:
  """Projects [N, D] embeddings with the named reducer; returns float32 [N, d]."""
  embeddings = np.asarray(embeddings, dtype=np.float32)
  if embeddings.ndim != 2 or len(embeddings) < 3:
    raise ValueError(f"reduce({name!r}) needs [N >= 3, D] embeddings, got shape "
                     f"{embeddings.shape}.")
  settings, _ = small_sets.reducer_settings(name, *embeddings.shape, settings)
  return np.asarray(get_reducer(name)(embeddings, settings), dtype=np.float32)


@register_reducer("none")
def _identity(x: np.ndarray, settings: ReduceSettings) -> np.ndarray:
  del settings
  return x


@register_reducer("pca")
def _pca(x: np.ndarray, settings: ReduceSettings) -> np.ndarray:
  from sklearn.decomposition import PCA
  n_components = settings.pca_dim  # <= min(N, D): small_sets.py
  if settings.backend == "jax":
    from bioacoustics_jax.evaluate import jax_pca
    return jax_pca.pca_fit_transform(x, n_components)
  return PCA(n_components=n_components, random_state=settings.seed).fit_transform(x)


def _import_umap():
  """`import umap` without torch: umap-learn's package init imports torch and torchvision for
  ParametricUMAP, which the suite never uses, whenever torch is installed. That would load
  torch into every JAX-only run (and fail here: the registry's torchvision is a CUDA build, see
  torch_compat.py). torch is hidden for the duration of the import, so ParametricUMAP is
  simply unavailable; a process that already imported torch (a PyTorch baseline cell) imports
  umap as it is."""
  if "torch" in sys.modules:
    import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    import umap  # pylint: disable=g-import-not-at-top
    return umap
  blocker = _NoTorch()
  sys.meta_path.insert(0, blocker)  # `import torch` raises ImportError while umap loads
  try:
    import umap  # pylint: disable=g-import-not-at-top
  finally:
    sys.meta_path.remove(blocker)
  return umap


class _NoTorch:
  """A meta-path finder that refuses torch and its submodules (see `_import_umap`)."""

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name == "torch" or name.startswith("torch."):
      raise ImportError(f"{name} is not imported by the evaluator")
    return None


@register_reducer("umap")
def _umap(x: np.ndarray, settings: ReduceSettings) -> np.ndarray:
  umap = _import_umap()  # imported lazily: ~10-30 s of numba import we only pay when used
  # random_state makes UMAP deterministic (and single-threaded), as the paper's seed 42 run was.
  model = umap.UMAP(n_components=small_sets.UMAP_COMPONENTS,
                    n_neighbors=settings.umap_n_neighbors, min_dist=settings.umap_min_dist,
                    init=settings.umap_init, random_state=settings.seed, n_jobs=1)
  limit = settings.umap_fit_max_points
  if limit is None or len(x) <= limit:
    return model.fit_transform(x)
  sample = np.random.default_rng(settings.seed).choice(len(x), limit, replace=False)
  out = np.empty((len(x), 2), np.float32)
  out[sample] = model.fit_transform(x[sample])
  rest = np.setdiff1d(np.arange(len(x)), sample)
  out[rest] = model.transform(x[rest])
  return out


TSNE_IMPLS = ("jax", "sklearn")


@register_reducer("tsne")
def _tsne(x: np.ndarray, settings: ReduceSettings) -> np.ndarray:
  if settings.tsne_impl == "jax":
    from bioacoustics_jax.evaluate import jax_tsne
    return jax_tsne.tsne(x, settings.tsne_perplexity, settings.tsne_init, settings.tsne_max_iter,
                         settings.tsne_learning_rate, settings.seed)
  if settings.tsne_impl != "sklearn":
    raise ValueError(f"tsne_impl={settings.tsne_impl!r} is not one of {list(TSNE_IMPLS)}.")
  from sklearn.manifold import TSNE
  model = TSNE(n_components=2, perplexity=float(settings.tsne_perplexity), init=settings.tsne_init,
               max_iter=int(settings.tsne_max_iter), learning_rate=settings.tsne_learning_rate,
               random_state=settings.seed)
  return model.fit_transform(x)
