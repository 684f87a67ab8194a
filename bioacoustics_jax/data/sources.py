"""Which `catalog.DatasetSource` a dataset name means, and where its prepared data goes.

A name under a data root is a folder with dataset.json or a BEANS roster entry (catalog.py), or
else any layout of a user's own recordings (own_data.py). pipeline.py prepares what this
resolves; cells and sweeps ask it for a dataset's rate and task before anything is prepared.
"""

from __future__ import annotations

import dataclasses
import logging
import os

from bioacoustics_jax import paths
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import own_data
from bioacoustics_jax.data import rules as rules_lib

_log = logging.getLogger(__name__)


def default_cache_dir() -> str:
  """$BIOACOUSTICS_JAX_CACHE, else ~/.cache/bioacoustics_jax."""
  return os.environ.get("BIOACOUSTICS_JAX_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "bioacoustics_jax")


def resolve_source(dataset: str, *, data_root: str, cache_dir: str | None = None,
                   sample_rate: int | None = None, clip_seconds: float | None = None,
                   shift_seconds: float | None = None, seed: int = 0,
                   class_order: str = "sorted", skip_bad_audio: bool = False,
                   rules: rules_lib.InputRules | None = None) -> catalog.DatasetSource:
  """The DatasetSource of `dataset` under `data_root` (see module doc), with overrides applied.

  `skip_bad_audio` (own data): csv rows whose file is missing are left out and listed instead
  of stopping the run; `rules`: the input rules of rules.py (default: InputRules()).
  """
  rules = rules or rules_lib.InputRules()
  data_root = paths.require_local(data_root, "data_root", "the audio is read as local files")
  path = os.path.join(data_root, dataset)
  source = None
  if os.path.isfile(os.path.join(path, catalog.DATASET_JSON)) or not os.path.exists(path):
    source = catalog.resolve(dataset, data_root, class_order, rules.labels)
  elif dataset in catalog.BEANS_ROSTER:
    try:
      source = catalog.resolve(dataset, data_root, class_order, rules.labels)
    except FileNotFoundError:  # a user's own folder that shares the name, unless it holds
      spec = catalog.BEANS_ROSTER[dataset]  # some of BEANS' files (a partial download)
      if any(os.path.exists(os.path.join(data_root, spec["folder"], f))
             for f in spec["files"].values()):
        raise
  if source is None:
    cache_dir = paths.require_local(cache_dir or default_cache_dir(), "data.cache_dir",
                                    f"{path} is a folder of your own audio, whose index is "
                                    "written as local files (data/own_data.py)")
    return own_data.resolve(path, cache_dir=cache_dir,
                            sample_rate=sample_rate, clip_seconds=clip_seconds,
                            shift_seconds=shift_seconds, seed=seed,
                            skip_missing=skip_bad_audio, rules=rules)
  changes = {k: v for k, v in dict(sample_rate=sample_rate, clip_seconds=clip_seconds,
                                   shift_seconds=shift_seconds).items() if v}
  if not changes:
    return source
  info = dataclasses.replace(source.info, **changes)
  _log.info("%s: %s set by the config (the dataset says %s)", dataset, changes,
            {k: getattr(source.info, k) for k in changes})
  fingerprint = catalog.fingerprint_files([], extra=[source.fingerprint, sorted(changes.items())])
  return dataclasses.replace(source, info=info, fingerprint=fingerprint)


def tfds_dir(source: catalog.DatasetSource, cache_dir: str | None) -> str:
  """`<cache_dir>/tfds`; without a cache_dir the dataset's own `_tfds` when writable (the
  synthetic suite), else under default_cache_dir()."""
  if cache_dir:
    return os.path.join(cache_dir, "tfds")
  legacy = os.path.join(source.root, "_tfds")
  if os.access(source.root, os.W_OK) or os.access(legacy, os.W_OK):
    return legacy
  return os.path.join(default_cache_dir(), "tfds")
