r"""Port a model's PyTorch weights once to an orbax checkpoint that runs then load directly;
list the zoo.

  python -m bioacoustics_jax.zoo --list [--weights_dir=DIR]

  python -m bioacoustics_jax.zoo --model=rn50p [--weights=~/Downloads/resnet50-11ad3fa6.pth] \
      [--out=DIR]

writes <out>/variables (orbax) and <out>/porting.json (model, architecture, source file,
sha256). The default --out is `<weights dir>/<model>.ported`, which every later run of that model
reads instead of porting the .pth again (as long as the .pth in the weights folder, if any, has
the sha256 recorded there). Without --weights the file is looked up in the weights directory
($BIOACOUSTICS_JAX_WEIGHTS or ~/.cache/bioacoustics_jax/weights); nothing is downloaded unless
asked for:

  python -m bioacoustics_jax.zoo --download=rn50p[+vggish...|paper] [--weights_dir=DIR]

fetches each model's file into the weights directory and checks its sha256 (zoo/download.py).
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
    "file in the weights directory (fetch it with --download=MODEL first).")
_OUT = flags.DEFINE_string("out", None, "Output directory (must not hold a checkpoint yet). "
                           "Default: <weights dir>/<model>.ported, where runs look for it.")
_WEIGHTS_DIR = flags.DEFINE_string(
    "weights_dir", None, "Weights directory (default $BIOACOUSTICS_JAX_WEIGHTS or "
    "~/.cache/bioacoustics_jax/weights).")
_FORCE = flags.DEFINE_bool("force", False, "Overwrite an existing checkpoint in --out.")
_DOWNLOAD = flags.DEFINE_string(
    "download", None, "Fetch these models' weights files into the weights directory and check "
    "their sha256: model ids and sets (`paper`) joined by `+`, e.g. rn50p+vggish.")


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
    source = backbone.weights_path  # never downloaded here: a missing file names --download
    if not source.is_file():
      raise load.MissingWeightsError(load.missing_weights_message(preset.name, source,
                                                                  preset.weights_url))

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
  if _DOWNLOAD.value:
    from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top
    from bioacoustics_jax.zoo import download  # pylint: disable=g-import-not-at-top
    try:
      download.download(_DOWNLOAD.value, load.weights_dir(_WEIGHTS_DIR.value))
    except (download.DownloadError, KeyError, ValueError) as e:  # one line, no traceback
      raise SystemExit(f"ERROR: {e.args[0]}") from None
    return
  if not _MODEL.value:
    raise app.UsageError("--model is required (or --list, or --download=MODEL).")
  out = port(_MODEL.value, _WEIGHTS.value, _OUT.value, _WEIGHTS_DIR.value, _FORCE.value)
  print(out)


if __name__ == "__main__":
  app.run(main)
