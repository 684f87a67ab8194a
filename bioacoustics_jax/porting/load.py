"""Pretrained PyTorch weights on disk -> numpy state_dicts, safely.

Weights are never downloaded implicitly: they are looked up by file name (a preset's `weights`,
bioacoustics_jax/zoo/) in the weights directory, `$BIOACOUSTICS_JAX_WEIGHTS` or
`~/.cache/bioacoustics_jax/weights`. A missing file is an error that names the command that
fetches it (`python -m bioacoustics_jax.zoo --download=MODEL`), the URL, and where to put it
(`missing_weights_message`).
Checkpoints are read with `torch.load(weights_only=True)`: a file that needs arbitrary pickled
code is refused, never executed. A preset's weights may also be a TF SavedModel folder (the
Perch models): its variables are read without loading its graph (porting/savedmodel.py).
"""

from __future__ import annotations

import os
import pathlib
import pickle
from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import checkpoint
from bioacoustics_jax.porting import savedmodel
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


def missing_weights_message(model: str, path: pathlib.Path, url: str | None) -> str:
  """What to run (or do by hand) when a model's weights file is absent; runs never download."""
  folder = "" if path.parent == weights_dir() else f" --weights_dir={path.parent}"
  return (f"Pretrained weights for model {model!r} not found: {path}. Fetch them with "
          f"`python -m bioacoustics_jax.zoo --download={model}{folder}` (checks the sha256), "
          f"or put {path.name!r} from {url} in {path.parent}/ (or set ${WEIGHTS_ENV} to the "
          "folder that holds it).")


def is_safetensors(path: str | os.PathLike) -> bool:
  """True when the file is in the safetensors format, whatever its name: it starts with the
  header's length (8 bytes, little-endian) and the header is a JSON object. torch files start
  with a zip ("PK") or pickle (0x80) signature instead."""
  path = pathlib.Path(path)
  with open(path, "rb") as f:
    head = f.read(9)
  if len(head) < 9 or head[8:9] != b"{":
    return False
  return 0 < int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def weights_present(path: str | os.PathLike) -> bool:
  """A weights file, or a SavedModel folder with its variables, is at `path`."""
  return pathlib.Path(path).is_file() or savedmodel.is_savedmodel(path)


def weights_sha256(path: str | os.PathLike) -> str:
  """sha256 of a weights file, or of a SavedModel folder's variable files."""
  if pathlib.Path(path).is_dir():
    return savedmodel.sha256_of_bundle(path)
  return checkpoint.cached_sha256(path)


def weights_size(path: str | os.PathLike) -> int:
  if pathlib.Path(path).is_dir():
    return sum(f.stat().st_size for f in savedmodel.bundle_files(path))
  return pathlib.Path(path).stat().st_size


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """A PyTorch checkpoint (.pth/.pt/.bin or .safetensors) -> {key: numpy array}; a SavedModel
  folder -> {variable path: numpy array} (porting/savedmodel.py, graph never loaded).

  Raises:
    FileNotFoundError: no such file.
    UnsafeCheckpointError: the file holds pickled objects beyond tensors and containers.
    ValueError: the file holds something other than a (possibly wrapped) state_dict.
  """
  path = pathlib.Path(path).expanduser()
  if path.is_dir():
    return savedmodel.read_variables(path)
  if not path.is_file():
    raise FileNotFoundError(f"No checkpoint file at {path}.")
  if is_safetensors(path):  # by content: the hub's model.safetensors under any name
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
