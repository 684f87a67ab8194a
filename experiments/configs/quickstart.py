r"""Quickstart: the built-in synthetic suite x ResNet-18 (random init, frozen) -> clustering.

Writes synthetic BEANS-format datasets under <workdir>/data, embeds their test split with each model,
reduces (UMAP, PCA, none) and clusters (k-means, HDBSCAN) the embeddings, and writes results.csv,
report.md and figures/ in the workdir:

  python -m launch.run --config=experiments/configs/quickstart.py --workdir=workdir/quickstart

Arguments after the colon: `models` (`+`-separated model ids of the zoo, e.g. rn18+mfcc for the
handcrafted baseline beside it), `size` (tiny|small|full), `regimes` (frozen, finetuned),
`datasets` (default: the whole synthetic suite), `probes` (linear_probe, knn, fewshot; default
linear_probe+knn), `smoke` (tiny widths and sets, for tests):

  python -m launch.run --config=experiments/configs/quickstart.py:models=rn18+rn50,size=tiny \
      --workdir=workdir/qs --config.evaluate.umap_min_dist=0.1
"""

import ml_collections

from bioacoustics_jax.train.config import default_train_config
from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, models=("rn18",), size="small", regimes=("frozen",), datasets=(),
                         smoke=False, probes=("linear_probe", "knn"))
  config = ml_collections.ConfigDict()
  config.seed = 42
  config.data = common.data_config(synthetic_size="tiny" if arg.smoke else arg.size,
                                   datasets=arg.datasets)  # () = the whole synthetic suite
  config.models = arg.models
  # Constructor kwargs for every model (a dict, e.g. width=4): tiny widths keep tests fast.
  config.model_overrides = ml_collections.ConfigDict(dict(width=4) if arg.smoke else {})
  config.weights_dir = ""  # "" = $BIOACOUSTICS_JAX_WEIGHTS or ~/.cache/bioacoustics_jax/weights
  # Random-init models beside their torch: twin start from the torch init, ported (cells/cell.py).
  config.random_init = "auto"  # "auto" | "torch" | "flax"
  config.regimes = arg.regimes
  # dtype: "auto" = bf16 compute on GPU/TPU, float32 on CPU; batch_size: extraction batch.
  config.embed = ml_collections.ConfigDict(dict(dtype="auto", batch_size=16 if arg.smoke else 32))
  # Clustering (the paper's lens) plus a linear probe and kNN retrieval on the same embeddings
  # (probes.csv, report.md); the `mfcc` model id adds BEANS' handcrafted baseline beside them.
  config.evaluate = common.evaluate_config(probes=arg.probes)
  # Used by the "finetuned" regime: the paper's protocol, shortened so the quickstart stays quick.
  config.train = default_train_config()
  config.train.num_epochs = 1 if arg.smoke else 10
  config.train.learning_rates = (1e-3,) if arg.smoke else (1e-4,)
  if arg.smoke:
    config.train.batch_size = 8
    config.train.eval_batch_size = 8
  if arg.smoke:
    config.evaluate.reducers = ("pca", "none")  # UMAP's numba compile costs ~20 s per process
    config.evaluate.update(seeds=2, interval_draws=4)  # every path, a fraction of the cost
  return config.lock()
