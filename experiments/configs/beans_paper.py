r"""The paper's benchmark on real BEANS data: 11 backbones x 10 datasets, frozen and fine-tuned.

BEANS cannot be downloaded here; run BEANS' own download scripts (github earthspecies/beans) so
that `<root>/<dataset>/annotations.*.csv` / `*.jsonl` exist, put the PyTorch weight files in
$BIOACOUSTICS_JAX_WEIGHTS (a missing one is reported with its URL), then:

  python -m launch.run --config=experiments/configs/beans_paper.py:root=/data/beans \
      --workdir=workdir/beans_paper

One Ray Tune trial per dataset (a local Ray, or a cluster with --ray_address=HOST:PORT):

  python -m launch.sweep --config=experiments/configs/beans_paper.py:root=/data/beans \
      --workdir=workdir/beans_paper_sweep

report.md then puts the paper's UMAP(50, 0.5)+k-means scores beside ours.
"""

import ml_collections

from bioacoustics_jax.train.config import default_train_config
from experiments.configs import common

PAPER_MODELS = ("alex", "rn18", "rn18p", "rn50", "rn50p", "rn152", "rn152p", "vggish", "swin",
                "aves_all", "aves")
BEANS_DATASETS = ("watkins", "bats", "cbi", "dogs", "humbugdb", "dcase", "enabirds", "hiceas",
                  "rfcx", "hainan-gibbons")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, root="", models=PAPER_MODELS, datasets=BEANS_DATASETS,
                         regimes=("frozen", "finetuned"), smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 42
  # smoke: the same code path on the built-in synthetic suite, tiny widths, for tests.
  config.data = common.data_config(
      root=arg.root, datasets=() if arg.smoke else arg.datasets,
      synthetic_size="tiny" if arg.smoke else "")
  config.models = ("rn18",) if arg.smoke else arg.models
  config.model_overrides = ml_collections.ConfigDict(dict(width=4) if arg.smoke else {})
  config.weights_dir = ""
  config.regimes = arg.regimes
  # float32 extraction: the paper's numbers (bf16 is "auto" elsewhere: bf16 on GPU/TPU only).
  config.embed = ml_collections.ConfigDict(dict(dtype="float32", batch_size=32))
  config.evaluate = common.evaluate_config()
  config.train = default_train_config()  # Adam, batch 32, lr grid, 50 epochs, best on valid
  if arg.smoke:
    config.evaluate.reducers = ("pca",)
    config.train.num_epochs, config.train.learning_rates = 1, (1e-3,)
  return config.lock()


def sweep(add):
  """One run per dataset: the unit that parallelises across machines."""
  for dataset in BEANS_DATASETS:
    add({"data.datasets": (dataset,)})
