"""Pretrained PyTorch weights on disk -> Flax variables for a registered model.

Weights are never downloaded implicitly: they are looked up by file name (`ModelSpec.weights`) in
the weights directory, `$BIOACOUSTICS_JAX_WEIGHTS` or `~/.cache/bioacoustics_jax/weights`. A
missing file is an error that says which file, where to fetch it, and where to put it.
Checkpoints are read with `torch.load(weights_only=True)`: a file that needs arbitrary pickled
code is refused, never executed.
"""

from __future__ import annotations

import os
import pathlib
import pickle
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.models import classifier as classifier_lib
from bioacoustics_jax.models import spec as spec_lib
from bioacoustics_jax.porting import torch_to_flax

WEIGHTS_ENV = "BIOACOUSTICS_JAX_WEIGHTS"
# Containers some training scripts wrap a state_dict in; unwrapped if they are the only content.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")


class MissingWeightsError(FileNotFoundError):
  """A pretrained weight file is not on disk; the message says how to get it."""


class UnsafeCheckpointError(ValueError):
  """A checkpoint needs arbitrary pickled objects to load; we refuse to execute it."""


def weights_dir(override: str | os.PathLike | None = None) -> pathlib.Path:
  """`override`, else $BIOACOUSTICS_JAX_WEIGHTS, else ~/.cache/bioacoustics_jax/weights."""
  if override is not None:
    return pathlib.Path(override).expanduser()
  env = os.environ.get(WEIGHTS_ENV)
  if env:
    return pathlib.Path(env).expanduser()
  return pathlib.Path.home() / ".cache" / "bioacoustics_jax" / "weights"


def missing_weights_message(spec: spec_lib.ModelSpec, path: pathlib.Path) -> str:
  return (f"Pretrained weights for model {spec.name!r} not found: {path}. This machine does "
          f"not download them. Fetch {spec.weights!r} from {spec.weights_url} and put it in "
          f"{path.parent}/ (or set ${WEIGHTS_ENV} to the folder that holds it).")


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """A PyTorch checkpoint (.pth/.pt/.bin or .safetensors) -> {key: numpy array}.

  Raises:
    FileNotFoundError: no such file.
    UnsafeCheckpointError: the file holds pickled objects beyond tensors and containers.
    ValueError: the file holds something other than a (possibly wrapped) state_dict.
  """
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise FileNotFoundError(f"No checkpoint file at {path}.")
  if path.suffix == ".safetensors":
    from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
    return dict(load_file(str(path)))
  import torch  # pylint: disable=g-import-not-at-top
  try:
    loaded = torch.load(str(path), map_location="cpu", weights_only=True)
  except pickle.UnpicklingError as e:
    raise UnsafeCheckpointError(
        f"{path} cannot be loaded with torch.load(weights_only=True): it contains pickled "
        f"objects other than tensors ({str(e).splitlines()[0]}). Executing an untrusted "
        "pickle can run arbitrary code, so it is refused. If you trust the file, re-save its "
        "state_dict in a trusted Python session: torch.save(torch.load(path, "
        "weights_only=False).state_dict(), 'clean.pth'), or convert it to .safetensors.") from e
  if isinstance(loaded, Mapping):
    for key in _WRAPPER_KEYS:
      if set(loaded) == {key} or (key in loaded and isinstance(loaded[key], Mapping)
                                  and not any(hasattr(v, "shape") for v in loaded.values())):
        loaded = loaded[key]
        break
  if not isinstance(loaded, Mapping) or not all(hasattr(v, "shape") for v in loaded.values()):
    raise ValueError(f"{path} does not hold a state_dict (a mapping of tensor names to "
                     f"tensors); got {type(loaded).__name__}.")
  # numpy has no bfloat16: widen such tensors (the porter casts to the target dtype anyway).
  loaded = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in loaded.items()}
  return torch_to_flax.to_numpy_state_dict(loaded)


def sample_input(spec: spec_lib.ModelSpec, seconds: float = 1.0) -> np.ndarray:
  """Zeros shaped like one example of `spec`'s input recipe (parameter shapes don't depend on
  the input length for any registered model, so a short clip is enough to build the tree)."""
  from bioacoustics_jax.audio import recipes  # pylint: disable=g-import-not-at-top
  recipe = recipes.get_recipe(spec.recipe)
  rate = recipe.sample_rate or 16000
  audio = jax.ShapeDtypeStruct((1, int(seconds * rate)), jnp.float32)
  shape = jax.eval_shape(lambda a: recipe.prepare(a, rate), audio)
  return np.zeros(shape.shape, shape.dtype)


def port_file(spec: spec_lib.ModelSpec, path: str | os.PathLike, sample: Any,
              **overrides) -> Any:
  """Variables of `spec.build(**overrides)` ported from the torch checkpoint at `path`."""
  if spec.port is None:
    raise ValueError(f"Model {spec.name!r} has no porter (ModelSpec.port is None).")
  module = spec.build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), sample)
  state_dict = load_state_dict(path)
  try:
    ported = spec.port(state_dict, target)
  except torch_to_flax.PortingError as e:
    raise torch_to_flax.PortingError(
        f"{path} does not fit model {spec.name!r} ({spec.architecture}): {e}") from None
  return jax.tree.map(jnp.asarray, ported)


def pretrained_variables(spec: spec_lib.ModelSpec, weights_dir_: str | os.PathLike | None,
                         sample: Any, **overrides) -> Any:
  """Flax variables of `spec`'s backbone from its pretrained file in the weights directory.

  Raises:
    ValueError: `spec` has no pretrained weights (a random-init model such as `rn18`).
    MissingWeightsError: the file is absent; the message names it, its URL and the folder.
  """
  if spec.weights is None:
    raise ValueError(f"Model {spec.name!r} is a random-init model with no pretrained weights.")
  path = weights_dir(weights_dir_) / spec.weights
  if not path.is_file():
    raise MissingWeightsError(missing_weights_message(spec, path))
  return port_file(spec, path, sample, **overrides)


def init_variables(spec: spec_lib.ModelSpec, sample: Any, *, rng: jax.Array,
                   weights_dir: str | os.PathLike | None = None,  # pylint: disable=redefined-outer-name
                   num_classes: int | None = None, **overrides) -> Any:
  """Variables to start from: random init if `spec.weights` is None, else the ported weights.

  With `num_classes`, the tree is for `Classifier(backbone, num_classes)`: the backbone subtree
  as above (pretrained or random) and a fresh `head` from `rng`.
  """
  module = spec.build(**overrides)
  if num_classes is None:
    if spec.weights is None:
      return jax.jit(module.init)(rng, sample)
    return pretrained_variables(spec, weights_dir, sample, **overrides)

  model = classifier_lib.Classifier(module, num_classes)
  if spec.weights is None:
    return jax.jit(model.init)(rng, sample)
  backbone = pretrained_variables(spec, weights_dir, sample, **overrides)
  # Only the head is initialised (running every backbone initialiser just to overwrite it costs
  # seconds of RNG compilation); the structure check below catches a changed Classifier.
  shapes = jax.eval_shape(model.init, rng, sample)
  embedding = jax.eval_shape(
      lambda v, x: module.apply(v, x)[1][model.embedding], backbone, sample)
  head = nn.Dense(num_classes).init(rng, jnp.zeros(embedding.shape, jnp.float32))
  out = {collection: {"backbone": tree} for collection, tree in backbone.items()}
  out["params"]["head"] = head["params"]
  _check_same_structure(shapes, out, spec.name)
  return out


def _check_same_structure(expected: Any, actual: Any, name: str) -> None:
  want = jax.tree.map(lambda s: (tuple(s.shape), jnp.dtype(s.dtype)), expected)
  got = jax.tree.map(lambda a: (tuple(a.shape), jnp.dtype(a.dtype)), actual)
  if want != got:
    raise ValueError(f"Classifier variables for {name!r} do not match the Classifier's own "
                     "structure; models.classifier.Classifier has changed its head.")
