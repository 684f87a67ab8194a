r"""Port a registered model's PyTorch weights to a Flax checkpoint.

  python -m bioacoustics_jax.porting --model=rn50p --weights=~/Downloads/resnet50-0676ba61.pth \
      --out=/tmp/ported/rn50p

writes <out>/variables (orbax) and <out>/porting.json (model, source file, sha256), which
`bioacoustics_jax.porting.checkpoint.load_variables(out)` reads. Without --weights the file is
looked up in the weights directory ($BIOACOUSTICS_JAX_WEIGHTS or
~/.cache/bioacoustics_jax/weights) and, if absent, downloaded there with torch.hub (the way
torchvision fetches its own weights); offline, it fails saying which file to fetch and where to
put it.
"""

from __future__ import annotations

import pathlib

from absl import app
from absl import flags
from absl import logging

_MODEL = flags.DEFINE_string("model", None, "Registered model name, e.g. rn50p, alex, vggish.")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "PyTorch checkpoint (.pth/.pt/.bin/.safetensors). Default: the model's "
    "file in the weights directory, downloaded there if missing.")
_OUT = flags.DEFINE_string("out", None, "Output directory (must not hold a checkpoint yet).")
_WEIGHTS_DIR = flags.DEFINE_string(
    "weights_dir", None, "Weights directory (default $BIOACOUSTICS_JAX_WEIGHTS or "
    "~/.cache/bioacoustics_jax/weights).")
_FORCE = flags.DEFINE_bool("force", False, "Overwrite an existing checkpoint in --out.")


def download_weights(spec, directory: pathlib.Path) -> pathlib.Path:
  """Fetches `spec.weights_url` into `directory` with torch.hub; a clear error when offline."""
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top
  path = directory / spec.weights
  if path.is_file():
    return path
  import torch.hub  # pylint: disable=g-import-not-at-top
  directory.mkdir(parents=True, exist_ok=True)
  logging.info("Downloading %s to %s", spec.weights_url, path)
  try:
    torch.hub.download_url_to_file(spec.weights_url, str(path), progress=False)
  except OSError as e:  # URLError, HTTPError, socket and ssl errors: not reachable from here
    raise load.MissingWeightsError(
        f"Could not download {spec.weights_url} ({type(e).__name__}: {e}). "
        + load.missing_weights_message(spec, path)) from e
  return path


def port(model: str, weights: str | None, out: str, weights_dir: str | None = None,
         force: bool = False) -> pathlib.Path:
  """The command's work, callable from tests: returns the output directory."""
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from bioacoustics_jax.models import registry  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import checkpoint  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top

  spec = registry.get(model)
  if weights is not None:
    source = pathlib.Path(weights).expanduser()
    if not source.is_file():
      hint = (f" {spec.name!r} expects {spec.weights!r}, from {spec.weights_url}; put it in "
              f"{load.weights_dir(weights_dir)}/ or pass its path." if spec.weights else "")
      raise load.MissingWeightsError(f"--weights={weights}: no such file.{hint}")
  elif spec.weights is None:
    raise ValueError(f"Model {spec.name!r} is random-init (no pretrained weights); pass "
                     "--weights=FILE to port a checkpoint of its architecture "
                     f"({spec.architecture}).")
  else:
    source = download_weights(spec, load.weights_dir(weights_dir))

  variables = load.port_file(spec, source, load.sample_input(spec))
  metadata = {"model": spec.name, "architecture": spec.architecture,
              "source": str(source.resolve()), "source_name": source.name,
              "sha256": checkpoint.sha256_of(source), "expected_file": spec.weights}
  out_dir = checkpoint.save_variables(variables, out, metadata, force=force)
  logging.info("Ported %s from %s to %s", spec.name, source, out_dir)
  return out_dir


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _MODEL.value or not _OUT.value:
    raise app.UsageError("--model and --out are required.")
  out = port(_MODEL.value, _WEIGHTS.value, _OUT.value, _WEIGHTS_DIR.value, _FORCE.value)
  print(out)


if __name__ == "__main__":
  app.run(main)
