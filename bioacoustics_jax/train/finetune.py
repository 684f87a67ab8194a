"""Fine-tuning a resolved Backbone on pipeline splits: the paper's protocol.

    variables, result = finetune(backbone, train_split, valid_split, config.train, workdir)

`finetune` adds a new linear head on the backbone's embedding (models/classifier.py), runs every
learning rate of `train.learning_rates` in its own `<workdir>/lr_<lr>/` (each resumable; the
grid trained together in one compiled program, train/grid_fit.py), and keeps the run and epoch
with the best validation metric. It returns the fine-tuned BACKBONE
variables, ready for embedding extraction with the same backbone module (the head is dropped;
it is in the checkpoint if needed).

`<workdir>/sweep.json` records, per lr, the best epoch, metric and validation curve, and for the
selected run the lr, epoch and the selected weights' accuracy on their own training clips in
eval vs train mode (train/diagnostics.py: a BatchNorm collapse is visible at a glance).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax import dtypes
from bioacoustics_jax import paths
from bioacoustics_jax import zoo
from bioacoustics_jax.data import augment as augment_lib
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data.order import epoch_seed
from bioacoustics_jax.models.classifier import Classifier
from bioacoustics_jax.models.classifier import head_init
from bioacoustics_jax.models import initialize
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.train import checkpointing
from bioacoustics_jax.train import diagnostics
from bioacoustics_jax.train import grid_fit
from bioacoustics_jax.train import loop
from bioacoustics_jax.train import timing


def finetune(backbone: zoo.Backbone, train_split: pipeline.SplitData,
             valid_split: pipeline.SplitData | None, train_config: ml_collections.ConfigDict,
             workdir: str, *, variables: dict | None = None) -> tuple[dict, loop.TrainResult]:
  """Fine-tunes `backbone`; returns (backbone variables, best TrainResult).

  Args:
    backbone: the resolved model (zoo.resolve): module, recipe, input rate, frozen prefixes.
    train_split, valid_split: pipeline splits (valid selects the best epoch and lr; None trains
      all epochs and keeps the last one).
    train_config: `default_train_config()` or an override of it.
    workdir: where checkpoints, metrics.jsonl and sweep.json go.
    variables: the backbone's starting variables; None starts from
      `backbone.init_variables` seeded with `train_config.seed` (pretrained when it has weights).
  """
  info = train_split.info
  rate = backbone.input_rate(info.sample_rate)
  recipe = backbone.model_recipe  # the channel once for a folded stem
  cfg = train_config
  module, compute_dtype = _training_backbone(backbone, cfg)
  sample_input = recipe.prepare(jnp.zeros((1, info.num_samples(rate)), jnp.float32), rate)
  if variables is None:
    variables = backbone.init_variables(jax.random.key(cfg.seed), sample_input)
  variables = jax.tree.map(np.asarray, variables)
  classifier = Classifier(module, info.num_classes)
  start = _with_new_head(classifier, variables, sample_input, cfg.seed)

  eval_bs = -(-int(cfg.eval_batch_size) // jax.device_count()) * jax.local_device_count()
  if valid_split is not None:
    eval_bs = _fit_to_split(eval_bs, valid_split)
  train_batches, steps, local_bs = epoch_batches(train_split, rate, cfg)

  valid_batches = None
  if valid_split is not None:
    valid_batches = lambda: valid_split.numpy_batches(  # noqa: E731
        batch_size=eval_bs, sample_rate=rate, drop_background=cfg.drop_background)

  task = loop.TrainTask(
      module=classifier, prepare=recipe.prepare, sample_rate=rate, task=info.task,
      num_classes=info.num_classes, variables=start, train_batches=train_batches,
      steps_per_epoch=steps, valid_batches=valid_batches,
      frozen_prefixes=backbone.frozen_prefixes, compute_dtype=compute_dtype,
      background=background_bank(cfg.augment, train_split, rate),
      frontend_on_global_batch=recipe.uses_batch_statistics)
  lrs = tuple(cfg.learning_rates) or (float(cfg.learning_rate),)
  run_dirs = [os.path.join(workdir, f"lr_{lr:g}") if len(lrs) > 1 else workdir for lr in lrs]
  logging.info("fine-tuning %s on %s at lr %s -> %s", backbone.name, info.name,
               ", ".join(f"{lr:g}" for lr in lrs), workdir)
  results = [(result, final) for final, result in grid_fit.fit_grid(task, cfg, run_dirs, lrs)]
  best_result, best_final = _select(results)
  if best_result.best_checkpoint is not None:
    chosen, _ = checkpointing.best_variables(best_result.workdir)
  else:
    chosen = best_final  # no validation: the last epoch's parameters
  if info.task == "classification":
    # The selected weights on their own training clips, eval vs train mode: a BatchNorm
    # collapse (one class predicted in eval mode) is visible at a glance in sweep.json.
    best_result.train_accuracy = diagnostics.mode_accuracies(
        Classifier(backbone.module, info.num_classes), chosen, recipe.prepare, rate,
        train_split.numpy_batches(batch_size=local_bs, sample_rate=rate,
                                  drop_background=cfg.drop_background,
                                  process_index=0, process_count=1))  # the whole split
  rows = min(steps * local_bs * jax.process_count(),
             train_split.count(drop_background=cfg.drop_background))
  best_result.speed = timing.train_speed(best_result.epoch_times, rows)
  _write_sweep(workdir, backbone.name, info.name, [r for r, _ in results], best_result, cfg)
  return backbone_variables(chosen), best_result


def epoch_batches(train_split: pipeline.SplitData, rate: int, cfg,
                  process_batch: int | None = None):
  """(`train_batches(epoch)`, steps per epoch, rows per batch): this process's padded, masked
  training batches, the same rows in the same order for the same (seed, epoch). The PyTorch
  trainer reads its batches from here too (baselines/torch_finetune.py; one process, so its
  `process_batch` is the global batch): one data order."""
  if process_batch is None:
    process_batch = data_parallel.local_batch_size(cfg.batch_size)
  local_bs = _fit_to_split(int(process_batch), train_split)
  steps = train_split.num_batches(local_bs, drop_background=cfg.drop_background)
  if cfg.max_steps_per_epoch:
    steps = min(steps, int(cfg.max_steps_per_epoch))

  def train_batches(epoch: int):
    return train_split.numpy_batches(
        batch_size=local_bs, sample_rate=rate, train=True, seed=epoch_seed(cfg.seed, epoch),
        drop_background=cfg.drop_background)

  in_memory = _in_memory_batches(train_split, local_bs, rate, steps, cfg)
  return (train_batches if in_memory is None else in_memory), steps, local_bs


# A training split up to this size (this process's audio, float32) is read once and shuffled
# in memory each epoch: on a small set, rebuilding the tf.data pipeline every epoch cost more
# than the (one) training step itself.
IN_MEMORY_BYTES = 256 << 20


def _in_memory_batches(split: pipeline.SplitData, local_bs: int, rate: int, steps: int, cfg):
  """`train_batches(epoch)` over the split held in memory, or None if too big.

  Each epoch is a permutation of the WHOLE split seeded by (seed, epoch) (data/order.py), cut
  into global batches of `local_bs * process_count` rows; this process feeds its slice of each
  (rows [p * local_bs, (p + 1) * local_bs)). Every host holds the split, so the global batches,
  hence the trained weights, are the same on any number of hosts as on one. The order is a
  function of the epoch, as with the pipeline (a different order from tf.data's shuffle, which
  is why the set-size threshold is part of the code, not a switch per run). The last global
  batch is padded with zero rows (mask False); exactly `steps` batches per epoch.
  """
  if split.count(drop_background=cfg.drop_background) * split.info.num_samples(rate) * 4 > \
      IN_MEMORY_BYTES:
    return None
  rows = [b for b in split.numpy_batches(batch_size=local_bs, sample_rate=rate,
                                          drop_background=cfg.drop_background,
                                          process_index=0, process_count=1)]
  keep = np.concatenate([b["mask"] for b in rows]).astype(bool)
  data = {k: np.concatenate([b[k] for b in rows])[keep] for k in rows[0]}
  n, me, global_bs = len(data["mask"]), jax.process_index(), local_bs * jax.process_count()

  def batches(epoch: int):
    order = np.random.default_rng(epoch_seed(cfg.seed, epoch)).permutation(n)
    for i in range(steps):
      idx = order[i * global_bs:(i + 1) * global_bs][me * local_bs:(me + 1) * local_bs]
      out = {}
      for k, v in data.items():
        chunk = np.zeros((local_bs,) + v.shape[1:], v.dtype)
        chunk[:len(idx)] = v[idx]
        out[k] = chunk
      yield out

  return batches


def _fit_to_split(local_batch: int, split: pipeline.SplitData) -> int:
  """A batch no larger than the split (per process, rounded up to the local devices).

  A split smaller than one batch (small real sets: 22 clips, batch 32) is then one batch with
  the same real rows and less padding: the loss (mean over real rows), the masked BatchNorm
  moments and batch-statistics recipes (max over the real rows) are unchanged, and the step,
  recalibration and validation stop computing padding rows.
  """
  per_process = -(-split.num_examples // jax.process_count())
  rows = -(-per_process // jax.local_device_count()) * jax.local_device_count()
  return min(local_batch, max(rows, jax.local_device_count()))


def backbone_variables(classifier_variables: dict) -> dict:
  """The backbone part of Classifier variables ({"params": {"backbone": ...}, ...})."""
  out = {}
  for collection, tree in classifier_variables.items():
    if "backbone" in tree:
      out[collection] = tree["backbone"]
  return out


def compute_dtype_name(cfg) -> str:
  """The training compute dtype train.mixed_precision gives here: "bfloat16" or "float32"."""
  return dtypes.train_dtype(cfg.mixed_precision, jax.default_backend())


def _training_backbone(backbone: zoo.Backbone, cfg) -> tuple[Any, Any]:
  """Backbone module for training: cross-replica BN, and bf16 compute on accelerators."""
  dtype = jnp.bfloat16 if compute_dtype_name(cfg) == "bfloat16" else None
  if cfg.regularization not in ("original", "off"):
    raise ValueError(f"train.regularization={cfg.regularization!r}; expected 'original' or "
                     "'off'.")
  module = backbone.training_module(cross_replica_bn=bool(cfg.cross_replica_bn), dtype=dtype,
                                    regularization=cfg.regularization == "original")
  return module, dtype


def _with_new_head(module: Classifier, backbone_vars: dict, sample_input, seed: int) -> dict:
  """Classifier variables: the given backbone + a freshly initialised head (seeded).

  Only the variables' structure is traced (jax.eval_shape): the backbone's and the head's values
  are both replaced below, so nothing is drawn or compiled; any other variable the classifier
  had would be initialised for real (models/initialize.py)."""
  rng = jax.random.key(seed)
  fresh = jax.eval_shape(functools.partial(module.init, train=False), rng, sample_input)
  out = {c: dict(tree) for c, tree in fresh.items()}
  # The head both trainers start from (models/classifier.py: torch nn.Linear's distribution).
  dim, classes = np.shape(out["params"]["head"]["kernel"])
  out["params"]["head"] = head_init(seed, dim, classes)
  for collection, tree in backbone_vars.items():
    if collection not in out or "backbone" not in out[collection]:
      raise KeyError(f"Backbone variables have collection {collection!r} that the model "
                     f"does not use (model collections: {sorted(fresh)}).")
    want = jax.tree.map(lambda x: (x.shape, x.dtype), out[collection]["backbone"])
    got = jax.tree.map(lambda x: (np.shape(x), np.asarray(x).dtype), tree)
    if want != got:
      raise ValueError(f"Backbone {collection!r} do not match the model built from the spec "
                       f"(same architecture and overrides?). First differences: "
                       f"{_diff(want, got)}")
    out[collection]["backbone"] = jax.tree.map(np.asarray, tree)
  if any(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree.leaves(out)):
    real = initialize.init(module, rng, sample_input, train=False)
    out = jax.tree.map(lambda x, r: np.asarray(r) if isinstance(x, jax.ShapeDtypeStruct) else x,
                       out, jax.tree.map(np.asarray, real))
  return out


def _diff(want, got) -> list[str]:
  w = dict(jax.tree_util.tree_flatten_with_path(want, is_leaf=lambda x: isinstance(x, tuple))[0])
  g = dict(jax.tree_util.tree_flatten_with_path(got, is_leaf=lambda x: isinstance(x, tuple))[0])
  keys = set(w) | set(g)
  return [f"{jax.tree_util.keystr(k)}: model {w.get(k)} vs given {g.get(k)}"
          for k in sorted(keys, key=str) if w.get(k) != g.get(k)][:5]


def background_bank(cfg, split, rate):
  if cfg.background_prob <= 0:
    return None
  num_samples = split.info.num_samples(rate)
  if cfg.background_dir:
    return augment_lib.BackgroundBank.from_folder(cfg.background_dir, rate, num_samples)
  return augment_lib.BackgroundBank.from_batches(
      split.numpy_batches(batch_size=64, sample_rate=rate), rate)


def _select(results):
  with_metric = [(r, f) for r, f in results if r.best_metric is not None]
  if not with_metric:
    return results[-1]
  sign = -1.0 if with_metric[0][0].metric == "loss" else 1.0
  return max(with_metric, key=lambda rf: sign * rf[0].best_metric)


def _write_sweep(workdir, model, dataset, results, best, cfg) -> None:
  if jax.process_index() != 0:
    return
  rows = [{"learning_rate": r.learning_rate, "metric": r.metric, "best": r.best_metric,
           "best_epoch": r.best_epoch, "workdir": r.workdir,
           "curve": [{"epoch": h["epoch"], **{k: v for k, v in h.items()
                                              if k not in ("epoch", "step")}}
                     for h in r.history]} for r in results]
  paths.write_text(os.path.join(workdir, "sweep.json"), json.dumps(  # local or a URI
      {"model": model, "dataset": dataset, "runs": rows,
       "selected_learning_rate": best.learning_rate, "selected_epoch": best.best_epoch,
       "selected_metric": best.best_metric, "train_accuracy": best.train_accuracy,
       "bn_recalibration": cfg.bn_recalibration}, indent=1))
