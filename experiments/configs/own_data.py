r"""Your own recordings: a folder of label sub-folders, a csv, BEANS files or Raven tables.

  python -m launch.run --config=experiments/configs/own_data.py:root=/path/to/recordings \
      --workdir=workdir/mine

`root` is one of the layouts of bioacoustics_jax/data/own_data.py (README, "Own data"): a folder
with one sub-folder per label, the same under train/ valid/ test/, a csv of path,label, a folder
of BEANS annotation csvs or detection jsonl files, or Raven selection tables next to their
recordings. The sample rate and clip length are inferred (stated in the log and in report.md);
set them with `:sample_rate=32000,clip_seconds=3` or `--config.data.clip_seconds=3`. Nothing is
written into the data folder (read-only copies work): prepared data and manifests go to
<workdir>/cache (or --config.data.cache_dir).

Frozen runs embed every file (split "all"). With `regimes=frozen+finetuned` the model is
fine-tuned on train, selected on valid, and both regimes are scored on test: the splits the data
brings, or, without any, a stratified split grouped by recording, written to
<workdir>/cache/own_data/<name>-<hash>/split.csv and reused.

Other arguments: `models` (`+`-separated zoo names, or `bioacoustic`: every preset with weights
trained on animal sounds, e.g. `:models=bioacoustic+rn18p`), `regimes`, `long_files`
(crop|split), `channel` (-1 averages), `skip_bad_audio`, `labels` (merge|exact: keep case and leading zeros apart),
`duplicates` (stop|keep: a file under two labels), `empty_labels` (stop|drop: a label folder
with no usable audio), `smoke` (tiny widths, for tests).
"""

import os

import ml_collections

from bioacoustics_jax.train.config import default_train_config
from bioacoustics_jax.zoo import presets
from experiments.configs import common

# Named model sets of `models=` (computed from the presets' `bioacoustic` flag).
MODEL_SETS = {"bioacoustic": presets.bioacoustic_models()}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, root="", models=("rn18",), regimes=("frozen",), sample_rate=0,
                         clip_seconds=0.0, long_files="crop", channel=-1, skip_bad_audio=False,
                         labels="merge", duplicates="stop", empty_labels="stop", smoke=False)
  # Without root the config still loads (tests, --help); the run then stops at "No datasets".
  path = os.path.abspath(os.path.expanduser(arg.root)).rstrip(os.sep) if arg.root else ""
  config = ml_collections.ConfigDict()
  config.seed = 42
  # The dataset is root's last component under its parent: pipeline.open_split resolves any
  # layout found there (data/own_data.py).
  config.data = common.data_config(
      root=os.path.dirname(path), datasets=(os.path.basename(path),) if path else (),
      split="test" if "finetuned" in arg.regimes else "all",
      sample_rate=arg.sample_rate, clip_seconds=arg.clip_seconds, long_files=arg.long_files,
      channel=arg.channel, skip_bad_audio=arg.skip_bad_audio, labels=arg.labels,
      duplicates=arg.duplicates, empty_labels=arg.empty_labels)
  config.models = common.expand_models(arg.models, MODEL_SETS)
  config.model_overrides = ml_collections.ConfigDict(dict(width=4) if arg.smoke else {})
  config.weights_dir = ""  # "" = $BIOACOUSTICS_JAX_WEIGHTS or ~/.cache/bioacoustics_jax/weights
  # Random-init models beside their torch: twin start from the torch init, ported (cells/cell.py).
  config.random_init = "auto"  # "auto" | "torch" | "flax"
  config.regimes = arg.regimes
  # dtype: "auto" = bf16 compute on GPU/TPU, float32 on CPU; batch_size: extraction batch.
  config.embed = ml_collections.ConfigDict(dict(dtype="auto", batch_size=16 if arg.smoke else 32))
  config.evaluate = common.evaluate_config()
  config.train = default_train_config()
  if arg.smoke:
    config.evaluate.reducers = ("pca", "none")
    config.evaluate.update(seeds=2, interval_draws=4)  # every path, a fraction of the cost
    config.train.num_epochs, config.train.learning_rates = 1, (1e-3,)
    config.train.batch_size = config.train.eval_batch_size = 8
  return config.lock()
