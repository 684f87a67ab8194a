"""Every config value checked before any compute: a typo in an enum or a value out of range
fails in the first second with a one-line message naming the key, not after hours of frozen
cells. (Unknown keys are already refused by the locked ConfigDict; missing weights files by
grid.resolve_models, also before any data is prepared.)"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterable

import ml_collections

from bioacoustics_jax import dtypes
from bioacoustics_jax import option_syntax
from bioacoustics_jax import paths
from bioacoustics_jax.cells.cell import RANDOM_INITS
from bioacoustics_jax.cells.cell import REGIMES
from bioacoustics_jax.data import rules as data_rules
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import config as train_config
from bioacoustics_jax.train import metrics as metrics_lib
from bioacoustics_jax.train import optimizer as optimizer_lib

_TRAIN_ENUMS = {
    "parallel": data_parallel.MODES,
    "mixed_precision": dtypes.MIXED_PRECISION,
    "optimizer": optimizer_lib.OPTIMIZERS,
    "schedule": optimizer_lib.SCHEDULES,
    "select_metric": metrics_lib.SELECT_METRICS,
    "frontend_batch": train_config.FRONTEND_BATCH,
}


class ConfigError(ValueError):
  """A config value that cannot run; the message names the key, the value and what is allowed."""


def _one_of(key: str, value: Any, allowed: Iterable[Any]) -> None:
  allowed = list(allowed)
  if value not in allowed:
    raise ConfigError(f"--config.{key}={value!r} is not one of {allowed}.")


def _all_of(key: str, values: Iterable[Any], allowed: Iterable[Any]) -> None:
  allowed = list(allowed)
  bad = [v for v in values if v not in allowed]
  if bad:
    raise ConfigError(f"--config.{key} has unknown value(s) {bad}; known: {allowed}.")


def _positive(key: str, value: Any, minimum: float = 0, strict: bool = True) -> None:
  ok = value > minimum if strict else value >= minimum
  if not ok:
    raise ConfigError(f"--config.{key}={value!r} must be {'>' if strict else '>='} {minimum}.")


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError on the first value that cannot run."""
  if not config.models:
    raise ConfigError("--config.models is empty; name at least one model (e.g. rn18).")
  if not config.regimes:
    raise ConfigError(f"--config.regimes is empty; use some of {list(REGIMES)}.")
  _all_of("regimes", config.regimes, REGIMES)
  _all_of("evaluate.reducers", config.evaluate.reducers, reduce_lib.names())
  _all_of("evaluate.clusterers", config.evaluate.clusterers, cluster_lib.names())
  if not config.evaluate.reducers or not config.evaluate.clusterers:
    raise ConfigError("--config.evaluate.reducers and .clusterers need one name each at least.")
  for key in ("umap_n_neighbors", "pca_dim", "hdbscan_min_cluster_size"):
    if key in config.evaluate:
      _positive(f"evaluate.{key}", config.evaluate[key])
  if "tsne_perplexity" in config.evaluate:
    _positive("evaluate.tsne_perplexity", config.evaluate.tsne_perplexity)
  if "umap_min_dist" in config.evaluate:
    _positive("evaluate.umap_min_dist", config.evaluate.umap_min_dist, strict=False)
  if config.data.synthetic_size:
    _one_of("data.synthetic_size", config.data.synthetic_size, ["", *sorted(synthetic.SIZES)])
  for key, allowed in (("labels", data_rules.LABELS), ("duplicates", data_rules.DUPLICATES),
                       ("empty_labels", data_rules.EMPTY_LABELS)):
    if key in config.data:
      _one_of(f"data.{key}", config.data[key], allowed)
  if "random_init" in config:
    _one_of("random_init", config.random_init, RANDOM_INITS)
  _positive("embed.batch_size", config.embed.batch_size)
  if "dtype" in config.embed:
    _one_of("embed.dtype", config.embed.dtype, dtypes.EMBED_DTYPES)
  if "finetuned" in config.regimes:
    _check_train(config.train)


def _check_train(train: ml_collections.ConfigDict) -> None:
  for key, allowed in _TRAIN_ENUMS.items():
    if key in train:
      _one_of(f"train.{key}", train[key], allowed)
  _positive("train.num_epochs", train.num_epochs, minimum=1, strict=False)
  _positive("train.batch_size", train.batch_size)
  _positive("train.eval_batch_size", train.eval_batch_size)
  lrs = tuple(train.learning_rates) or (train.learning_rate,)
  for lr in lrs:
    if not lr > 0:
      raise ConfigError(f"--config.train.learning_rates has {lr!r}; every learning rate must "
                        "be > 0.")


def check_writable(workdir: str, cache_dir: str = "") -> None:
  """The workdir (and data.cache_dir, when set) can be written, checked before any work: a
  read-only place fails here with the fix, not later in a TensorFlow traceback."""
  for what, path in (("--workdir", workdir), ("data.cache_dir", cache_dir)):
    if not path or paths.is_uri(path):
      continue
    path = paths.absolute(path)
    try:
      os.makedirs(path, exist_ok=True)
      with tempfile.TemporaryFile(dir=path):
        pass
    except OSError as e:
      fix = ("pass --workdir= a folder you can write to (everything the run writes goes there; "
             f"{option_syntax.spell('data.cache_dir', '/writable/folder')} moves the prepared "
             "data alone)" if what == "--workdir" else
             f"set {option_syntax.spell('data.cache_dir', '/writable/folder')}, or leave it "
             "empty for <workdir>/cache")
      raise ConfigError(f"{what}={path}: cannot write there ({type(e).__name__}: "
                        f"{e.strerror or e}). Fix: {fix}.") from e
