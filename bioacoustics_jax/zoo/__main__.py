r"""Port a model's PyTorch weights once to an orbax checkpoint that runs then load directly;
list the zoo.

  python -m bioacoustics_jax.zoo --list [--weights_dir=DIR]

  python -m bioacoustics_jax.zoo --model=rn50p [--weights=~/Downloads/resnet50-11ad3fa6.pth] \
      [--out=DIR]

writes <out>/variables (orbax) and <out>/porting.json (model, architecture, source file,
sha256). The default --out is `<weights dir>/<model>.ported`, which every later run of that model
reads instead of porting the .pth again (as long as the .pth in the weights folder, if any, has
the sha256 recorded there). Without --weights the file is looked up in the weights directory
($BIOACOUSTICS_JAX_WEIGHTS or ~/.cache/bioacoustics_jax/weights) and, if absent, downloaded
there with torch.hub (the way torchvision fetches its own weights); offline, it fails saying
which file to fetch and where to put it.
"""

from __future__ import annotations

import pathlib

from absl import app
from absl import flags
from absl import logging

_MODEL = flags.DEFINE_string("model", None, "Model id, e.g. rn50p, alex, vggish.")
_LIST = flags.DEFINE_bool("list", False, "Print every model id (family, input rate, window, "
                          "embedding dim, licence, weights file, present in the weights "
                          "folder, parity reference) and exit.")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "PyTorch checkpoint (.pth/.pt/.bin/.safetensors). Default: the model's "
    "file in the weights directory, downloaded there if missing.")
_OUT = flags.DEFINE_string("out", None, "Output directory (must not hold a checkpoint yet). "
                           "Default: <weights dir>/<model>.ported, where runs look for it.")
_WEIGHTS_DIR = flags.DEFINE_string(
    "weights_dir", None, "Weights directory (default $BIOACOUSTICS_JAX_WEIGHTS or "
    "~/.cache/bioacoustics_jax/weights).")
_FORCE = flags.DEFINE_bool("force", False, "Overwrite an existing checkpoint in --out.")


def download_weights(backbone, directory: pathlib.Path) -> pathlib.Path:
  """Fetches the preset's weights_url into `directory` with torch.hub; a clear error offline."""
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top
  preset = backbone.preset
  path = directory / preset.weights
  if path.is_file():
    return path
  import torch.hub  # pylint: disable=g-import-not-at-top
  directory.mkdir(parents=True, exist_ok=True)
  logging.info("Downloading %s to %s", preset.weights_url, path)
  try:
    torch.hub.download_url_to_file(preset.weights_url, str(path), progress=False)
  except OSError as e:  # URLError, HTTPError, socket and ssl errors: not reachable from here
    raise load.MissingWeightsError(
        f"Could not download {preset.weights_url} ({type(e).__name__}: {e}). "
        + load.missing_weights_message(preset.name, path, preset.weights_url)) from e
  return path


def port(model: str, weights: str | None, out: str | None = None,
         weights_dir: str | None = None, force: bool = False) -> pathlib.Path:
  """The command's work, callable from tests: returns the output directory."""
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import checkpoint  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top

  backbone = zoo.resolve(model, weights_dir=weights_dir)
  preset = backbone.preset
  if weights is not None:
    source = pathlib.Path(weights).expanduser()
    if not source.is_file():
      hint = (f" {preset.name!r} expects {preset.weights!r}, from {preset.weights_url}; put it "
              f"in {backbone.weights_dir}/ or pass its path." if preset.weights else "")
      raise load.MissingWeightsError(f"--weights={weights}: no such file.{hint}")
  elif preset.weights is None:
    raise ValueError(f"Model {preset.name!r} is random-init (no pretrained weights); pass "
                     "--weights=FILE to port a checkpoint of its architecture "
                     f"({preset.architecture}).")
  else:
    source = download_weights(backbone, backbone.weights_dir)

  variables = backbone.port_file(source)
  metadata = {"model": preset.name, "architecture": preset.architecture,
              "source": str(source.resolve()), "source_name": source.name,
              "sha256": checkpoint.sha256_of(source), "expected_file": preset.weights}
  out_dir = checkpoint.save_variables(variables, out or backbone.ported_dir, metadata,
                                      force=force)
  logging.info("Ported %s from %s to %s", preset.name, source, out_dir)
  return out_dir


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST.value:
    from bioacoustics_jax.zoo import listing  # pylint: disable=g-import-not-at-top
    print(listing.table(_WEIGHTS_DIR.value))
    return
  if not _MODEL.value:
    raise app.UsageError("--model is required (or --list).")
  out = port(_MODEL.value, _WEIGHTS.value, _OUT.value, _WEIGHTS_DIR.value, _FORCE.value)
  print(out)


if __name__ == "__main__":
  app.run(main)
