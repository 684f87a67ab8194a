"""The axes a config adds to datasets x models x regimes, each from one config key.

- `eval_grid`: several evaluator settings (the paper grid's UMAP and t-SNE settings) over each
  cell's one embedding set: one cell key, one eval key per setting.
- `backgrounds`: ("all", "fewer") for detection sets, the paper's fewer-background experiment,
  as a keyed axis of the cells (and of their fine-tuning).
"""

from __future__ import annotations

import ml_collections
from absl import logging

from bioacoustics_jax.data import pipeline
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator


def make_evaluators(config: ml_collections.ConfigDict) -> list[ClusteringEvaluator]:
  """One evaluator per entry of `config.eval_grid` ({name: overrides of config.evaluate}; the
  paper grid's reducer settings), or the one of `config.evaluate` when there is no grid. The
  entries that config.evaluate already equals come first: the first evaluator is the one the
  probes, report.html and TensorBoard use."""
  base = config.evaluate.to_dict()
  grid = [dict(over) for over in (config.get("eval_grid") or {}).values()]
  grid.sort(key=lambda over: any(base.get(k) != v for k, v in over.items()))
  settings = [dict(base, **over) for over in grid] or [base]
  return [ClusteringEvaluator(**s, log=logging.info) for s in settings]


def background_axis(config, dataset: str, data_root: str, data_options: dict) -> list[bool]:
  """drop_background values of a dataset's cells: `config.backgrounds` ("all", "fewer": the
  paper's fewer-background experiment, unlabelled windows out of train, valid and test) for
  detection sets, else the single `data.drop_background` flag."""
  axis = tuple(config.get("backgrounds") or ())
  if not axis:
    return [bool(config.data.drop_background)]
  bad = sorted(set(axis) - {"all", "fewer"})
  if bad:
    raise ValueError(f"--config.backgrounds has unknown value(s) {bad}; known: all, fewer")
  source = pipeline.resolve_source(dataset, data_root=data_root,
                                   cache_dir=data_options.get("cache_dir"),
                                   class_order=data_options.get("class_order", "sorted"),
                                   skip_bad_audio=data_options.get("skip_bad_audio", False),
                                   rules=data_options.get("rules"))
  if source.info.task != "detection":
    return [False] if "all" in axis else []
  return [b == "fewer" for b in axis]


def train_for(train: dict | None, config, drop_background: bool) -> dict | None:
  """The training config of a fine-tuned cell: on the background axis, fine-tuning drops the
  background windows exactly when the evaluated split does."""
  if train is None or not config.get("backgrounds"):
    return train
  return dict(train, drop_background=bool(drop_background))
