"""The run's grid: its cells (datasets x models x regimes x backgrounds) and its evaluator
settings, from the config.

    backbones = grid.resolve_models(config)     # every model once; unknown names, missing
                                                # weights and missing torch packages fail now
    data_root, datasets = grid.prepare_data(config, workdir)
    cells = grid.make_cells(config, backbones, data_root, datasets, workdir, cache_dir)
    evaluators = grid.make_evaluators(config)   # one per eval_grid entry

Each axis comes from one config key:
- `models`, `regimes`, `data.datasets` (or the synthetic suite): the cells; a model without
  parameters (the MFCC baseline) has frozen cells only.
- `eval_grid`: several evaluator settings (the paper grid's UMAP and t-SNE settings) over each
  cell's one embedding set: one cell key, one eval key per setting.
- `backgrounds`: ("all", "fewer") for detection sets, the paper's fewer-background experiment,
  as a keyed axis of the cells (and of their fine-tuning).

Building the grid opens no split: a cell's data work is `cell.opened()` (cells/cell.py).
"""

from __future__ import annotations

import os
import re
import time

import ml_collections
from absl import logging

from bioacoustics_jax import eval_settings
from bioacoustics_jax import paths
from bioacoustics_jax import zoo
from bioacoustics_jax.cells import store
from bioacoustics_jax.cells.cell import RUNNERS
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.cells.cell import resolve_init
from bioacoustics_jax.cells.cell import split_model_name
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.parallel import distributed
from bioacoustics_jax.porting import load as load_lib


def make_cells(config: ml_collections.ConfigDict, backbones: dict[str, zoo.Backbone],
               data_root: str, datasets: list[str], workdir: str, cache_dir: str) -> list[Cell]:
  """Every cell of the run, in order: dataset, model, regime, background."""
  train = config.train.to_dict() if "finetuned" in config.regimes else None
  data_options = pipeline.config_options(config.data, workdir)
  backgrounds = {d: background_axis(config, d, data_root, data_options) for d in datasets}
  for m in config.models:
    if "finetuned" in config.regimes and not backbones[m].preset.trainable:
      logging.info("%s has nothing to fine-tune: frozen cells only", m)
  return [Cell(dataset=d, model=m, regime=r, backbone=backbones[m], cache_dir=cache_dir,
               data_root=data_root, split_name=config.data.split, data_options=data_options,
               drop_background=drop, embed_batch_size=int(config.embed.batch_size),
               seed=int(config.seed),
               embed_dtype=extract_lib.resolve_dtype(config.embed.get("dtype", "auto")).name,
               train=train_for(train, config, drop) if r == "finetuned" else None,
               init=resolve_init(config.get("random_init", "auto"), m, config.models,
                                 backbones[m]))
          for d in datasets for m in config.models for r in config.regimes
          for drop in backgrounds[d]
          if r == "frozen" or backbones[m].preset.trainable]


def make_evaluators(config: ml_collections.ConfigDict) -> list[ClusteringEvaluator]:
  """One evaluator per entry of `config.eval_grid` ({name: overrides of config.evaluate}; the
  paper grid's reducer settings), or the one of `config.evaluate` when there is no grid. The
  entries that config.evaluate already equals come first: the first evaluator is the one the
  probes, report.html and TensorBoard use."""
  return [ClusteringEvaluator(**s, log=logging.info) for s in eval_settings.per_evaluator(config)]


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


def resolve_models(config: ml_collections.ConfigDict) -> dict[str, zoo.Backbone]:
  """config.models -> {name as written: Backbone}, resolved once for the whole run.

  Fails before any data is prepared on an unknown name, a model without a PyTorch baseline
  (`torch:` names), or missing weights files (every missing file named in one message).
  """
  overrides = config.model_overrides.to_dict()
  out, missing = {}, []
  for model in config.models:
    framework, name = split_model_name(model)
    out[model] = zoo.resolve(name, _applicable_overrides(name, overrides),
                             weights_dir=config.weights_dir or None,
                             rate_rule=zoo.aves_rate_rule(name, config.get("aves_input_rate",
                                                                           16000)))
    if framework == "torch":
      store.runner(RUNNERS["torch", "frozen"], model).check_model(out[model])
    try:
      out[model].check_weights()
    except load_lib.MissingWeightsError as e:
      missing.append(str(e))
  if missing:
    raise load_lib.MissingWeightsError("\n".join(missing))
  return out


def _applicable_overrides(name: str, overrides: dict) -> dict:
  """`config.model_overrides` applies to every model; a key that a model's module does not have
  (e.g. `width` for the parameter-free `mfcc`) is left out for that model, with a warning."""
  kept = dict(overrides)
  while True:
    try:
      zoo.get_preset(name).build(**kept)
      return kept
    except TypeError as e:
      match = re.search(r"unexpected keyword argument '(\w+)'", str(e))
      if not match or match.group(1) not in kept:
        raise
      logging.warning("model_overrides: %s=%r does not apply to model %s (its module has no "
                      "such field); left out for it.", match.group(1), kept.pop(match.group(1)),
                      name)


def prepare_data(config: ml_collections.ConfigDict, workdir: str) -> tuple[str, list[str]]:
  """Writes the synthetic suite when asked (process 0 first; then the others, which find it
  there when the data root is shared and write their own copy when it is a local folder);
  returns (data root, dataset names)."""
  root = resolve_data_root(config, workdir)
  datasets = list(config.data.datasets)
  if config.data.synthetic_size:
    start = time.perf_counter()
    written = list(datasets or synthetic.ROSTER)
    for writers_turn in (True, False):  # process 0 first: hosts sharing its root only read
      if distributed.is_main() == writers_turn:
        written = synthetic.write_suite(root, size=config.data.synthetic_size,
                                        seed=config.data.synthetic_seed, names=datasets or None)
      distributed.barrier(f"synthetic suite written{'' if writers_turn else ' (all hosts)'}")
    logging.info("Synthetic suite (%s) ready under %s in %.1f s: %s", config.data.synthetic_size,
                 root, time.perf_counter() - start, ", ".join(written))
    datasets = datasets or written
  if not datasets:
    raise ValueError("No datasets: set --config.data.datasets (BEANS names under "
                     "--config.data.root) or --config.data.synthetic_size=small.")
  return root, datasets


def resolve_data_root(config: ml_collections.ConfigDict, workdir: str) -> str:
  """config.data.root (default <workdir>/data), a local or mounted folder."""
  what = "data.root" if config.data.root else "data.root (default <workdir>/data)"
  return paths.require_local(config.data.root or os.path.join(workdir, "data"), what,
                             "the audio is read (and the synthetic suite written) as local files")
