"""The training loop: data-parallel steps, validation each epoch, checkpoints, resume, guards.

`fit(task, config, workdir, learning_rate=...)` trains one model at one learning rate. It is
model- and data-agnostic (a `TrainTask` carries the module, the frontend and batch factories);
train/finetune.py builds TrainTasks from a resolved zoo Backbone and the data pipeline.

Exact resume: a run killed at any point and restarted with the same config ends with the same
parameters as an uninterrupted one, because everything random is a function of the step:
- epoch e's data order comes from `task.train_batches(e)` (the pipeline is seeded per epoch),
  and a resumed epoch skips the batches its checkpoint had already consumed;
- host augmentation draws from numpy Generators seeded by (seed, epoch, step, process);
- device randomness (dropout, SpecAugment, mixup) folds the step into one base key.

Device-resident input: each step's batch is placed (a global array sharded over every device of
every host, or pmap's [devices, ...]) two steps ahead of the running one (parallel/prefetch.py),
the base key is placed once, and the state comes to the host at most once per epoch end (one
copy shared by the best checkpoint and the resume point); tests run the loop under
jax.transfer_guard("disallow").
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Any, Callable, Iterable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from tqdm import tqdm

from bioacoustics_jax.data import augment as augment_lib
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.parallel import preemption
from bioacoustics_jax.parallel import prefetch as prefetch_lib
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train import checkpointing
from bioacoustics_jax.train import logbook as logbook_lib
from bioacoustics_jax.train import losses
from bioacoustics_jax.train import metrics as metrics_lib
from bioacoustics_jax.train import optimizer as optimizer_lib
from bioacoustics_jax.train import recalibration
from bioacoustics_jax.train import timing
from bioacoustics_jax.train.state import TrainState


@dataclasses.dataclass
class TrainTask:
  """What to train on what. Batch factories yield THIS process's rows as numpy dicts.

  Attributes:
    module: the model (usually models.classifier.Classifier), returns (logits, intermediates).
    prepare: the input recipe, `prepare(audio [B, T], sample_rate) -> model input`, jittable.
    sample_rate: rate of the batches' audio.
    task: "classification" or "detection".
    num_classes: logits per example.
    variables: initial Flax variables ({"params", "batch_stats"?}).
    train_batches: `train_batches(epoch) -> iterable of batches`, the same order for the same
      epoch every time it is called (seeded per epoch), at least `steps_per_epoch` long.
    steps_per_epoch: steps in one epoch (equal on every process).
    valid_batches: `() -> iterable of padded, masked batches` for validation, or None.
    frozen_prefixes: parameter-path prefixes kept frozen (e.g. spec.frozen_prefixes).
    compute_dtype: None (float32) or e.g. jnp.bfloat16 for the forward pass.
    background: BackgroundBank for train.augment.background_prob > 0, else None.
    frontend_on_global_batch: run `prepare` on the gathered global batch (batch-statistics
      recipes); config.frontend_batch ("global"/"device"), when not "auto", overrides it.
  """

  module: nn.Module
  prepare: Callable[[Any, int], Any]
  sample_rate: int
  task: str
  num_classes: int
  variables: dict
  train_batches: Callable[[int], Iterable[dict]]
  steps_per_epoch: int
  valid_batches: Callable[[], Iterable[dict]] | None = None
  frozen_prefixes: tuple[str, ...] = ()
  compute_dtype: Any = None
  background: augment_lib.BackgroundBank | None = None
  frontend_on_global_batch: bool = True


@dataclasses.dataclass
class TrainResult:
  """Outcome of one run. `history` has one dict per validated epoch (epoch, step, metrics)."""

  workdir: str
  learning_rate: float
  metric: str
  best_metric: float | None
  best_epoch: int | None
  best_checkpoint: str | None
  history: list[dict]
  final_step: int
  examples_per_second: float | None = None
  # One timing.EpochTimer.seconds() dict per epoch run here (steps_seconds, epoch_seconds, ...).
  epoch_times: list[dict] = dataclasses.field(default_factory=list)
  # Set by finetune on the selected run: {"eval_mode", "train_mode"} accuracy of the selected
  # weights on the training clips (train/diagnostics.py); None for detection / plain fit().
  train_accuracy: dict | None = None
  # Set by finetune on the selected run: timing.train_speed (examples/s, seconds per epoch).
  speed: dict | None = None


class Preempted(SystemExit):
  """Raised after SIGTERM once the state is saved; exits with 143 unless caught."""

  def __init__(self, step: int):
    super().__init__(143)
    self.step = step


def fit(task: TrainTask, config, workdir: str, *, learning_rate: float) -> tuple[dict, TrainResult]:
  """Trains `task` at `learning_rate`; returns (final variables as numpy, TrainResult).

  Resumes from `workdir/checkpoints` when a previous run left one. Raises FloatingPointError
  on a non-finite loss (the last good checkpoint is kept) and Preempted after SIGTERM.
  """
  spe = int(task.steps_per_epoch)
  if spe <= 0:
    raise ValueError("steps_per_epoch is 0: the training split has fewer examples than one "
                     "batch per process. Lower train.batch_size or add data.")
  metric, mode = metrics_lib.select_key(config.select_metric, task.task)
  total_steps = spe * int(config.num_epochs)
  tx = optimizer_lib.make_optimizer(config, task.variables["params"], total_steps,
                                    learning_rate, task.frozen_prefixes)
  state = TrainState.create(task.variables, tx)
  ckpts = checkpointing.RunCheckpoints(workdir, metric=metric, mode=mode,
                                       keep=config.keep_checkpoints,
                                       async_save=config.async_checkpointing)
  meta = {"learning_rate": learning_rate, "steps_per_epoch": spe, "history": [], "best": None}
  restored = ckpts.restore_state(jax.tree.map(np.asarray, state.to_checkpoint()))
  if restored is not None:
    state = state.from_checkpoint(restored[0])
    _check_same_run(restored[1], meta, workdir)
    meta = dict(restored[1])
  step = int(state.step)

  global_frontend = _global_frontend(config.frontend_batch, task)
  per_device = step_lib.make_train_step(
      task.module, task.prepare, task.sample_rate, task=task.task, num_classes=task.num_classes,
      compute_dtype=task.compute_dtype, device_augment=augment_lib.device_augment(config.augment),
      frontend_on_global_batch=global_frontend)
  runner = data_parallel.DataParallel(per_device, config.parallel)
  recalibrate = None
  if recalibration.enabled(config, task.variables):
    recalibrate = recalibration.Recalibrator(
        task, runner, compute_dtype=task.compute_dtype, frontend_on_global_batch=global_frontend,
        max_batches=config.bn_recalibration_batches, seed=config.seed)
  evaluate = _make_evaluator(task)
  book = logbook_lib.Logbook(workdir, tensorboard=config.tensorboard)
  rng = runner.put_rng(jax.random.key(int(config.seed)))
  dstate = runner.put_state(state)
  del state  # the runner's copy is donated step by step; never touch the host one again

  last_save = [time.perf_counter()]
  timer = timing.EpochTimer()
  epoch_times: list[dict] = []
  host_copy: list = [None, None]  # (the device state it was copied from, its host copy)

  def host_state():
    """The state on the host, copied once per distinct device state (the epoch end's best
    checkpoint and resume point share one copy)."""
    if host_copy[0] is not dstate:
      host_copy[:] = [dstate, runner.host_state(dstate)]
    return host_copy[1]

  def save(at_step: int, *, force: bool = False, epoch_end: bool = False) -> None:
    # Epoch-end resume points at most every checkpoint_min_interval_seconds (the last epoch
    # and SIGTERM always): on a small set an orbax save per 1-step epoch is most of the epoch.
    if (epoch_end and not force and at_step < total_steps
        and time.perf_counter() - last_save[0] < float(config.checkpoint_min_interval_seconds)):
      return
    with timer.phase("checkpoint"):
      ckpts.save_state(at_step, host_state().to_checkpoint(), meta, force=force)
    last_save[0] = time.perf_counter()

  def validate(epoch: int, placed_batches: list | None = None) -> None:
    nonlocal dstate
    if recalibrate is not None:
      # Running statistics of the weights the epoch ended with, before anything reads them
      # (validation, best checkpoint, the resume point saved next).
      with timer.phase("recalibrate"):
        if placed_batches is not None:
          stats = recalibrate(dstate.params, dstate.batch_stats, placed_batches, placed=True)
        else:
          stats = recalibrate(dstate.params, dstate.batch_stats, task.train_batches(epoch))
        dstate = dstate.replace(batch_stats=runner.put_state(stats))
    with timer.phase("validate"):
      # shard_map's state is already replicated on the eval mesh: no host round trip.
      on_device = runner.mode == "shard_map"
      variables = dstate.variables() if on_device else host_state().variables()
      values = evaluate(variables, placed=on_device) if evaluate else {}
      values = {k: float(v) for k, v in values.items()}
    meta["history"].append({"epoch": epoch, "step": (epoch + 1) * spe, **values})
    book.write("valid", (epoch + 1) * spe, epoch=epoch, **values)
    logbook_lib.log_epoch(epoch, values, learning_rate)
    if metric in values and _better(values[metric], meta["best"], mode):
      meta["best"] = {"value": values[metric], "epoch": epoch, "step": (epoch + 1) * spe}
      with timer.phase("checkpoint"):
        ckpts.save_best((epoch + 1) * spe, host_state().variables(), values,
                        {"epoch": epoch, "learning_rate": learning_rate,
                         metric: values[metric]})

  # A checkpoint taken at an epoch boundary before that epoch's validation ran (kill in
  # between): validate now, with exactly the parameters the epoch ended with.
  if step and step % spe == 0 and len(meta["history"]) < step // spe:
    validate(step // spe - 1)

  sigterm = preemption.StopFlag()  # SIGTERM on any host: all stop at one step
  throughput = timing.Throughput(config.batch_size)
  pending: list[tuple[int, jax.Array]] = []  # losses not yet pulled to the host

  def check_finite() -> None:
    values = [(s, float(v)) for s, v in jax.device_get(pending)]  # one explicit copy
    pending.clear()
    bad = [(s, v) for s, v in values if not math.isfinite(v)]
    if bad:
      ckpts.wait()
      raise FloatingPointError(
          f"Non-finite training loss {bad[0][1]} at step {bad[0][0]} (lr {learning_rate}). "
          f"Stopped; the last good checkpoint is step {ckpts.latest_step()} under "
          f"{workdir}/checkpoints (nothing after the divergence was saved). Lower "
          "train.learning_rate, set train.grad_clip_norm, or check the inputs for NaN/inf.")
    if values:
      book.write("train", values[-1][0], loss=float(np.mean([v for _, v in values])),
                 **throughput.window())

  bar = tqdm(total=total_steps, initial=step, desc=f"train lr={learning_rate:g}",
             disable=not config.progress_bar or jax.process_index() != 0, mininterval=2.0,
             leave=False)
  try:
    for epoch in range(step // spe, int(config.num_epochs)):
      timer.start()
      skip = step - epoch * spe
      batches = itertools.islice(task.train_batches(epoch), skip, spe)
      # Recalibration reuses this epoch's (unaugmented) device batches when they are all it
      # needs and fit in a small budget; else it reads the epoch's batches again. Either way
      # it sees the same rows, so a resumed epoch (skip > 0) recalibrates to the same bits.
      placed: list | None = [] if (recalibrate is not None and skip == 0
                                   and recalibrate.can_reuse(spe)) else None
      def augmented(batches=batches, epoch=epoch, skip=skip):
        for i, raw in enumerate(batches, start=skip):
          yield i, raw, augment_lib.host_augment(
              raw, augment_lib.batch_rng(config.seed, epoch, i, jax.process_index()),
              config.augment, task.sample_rate, task.background)

      for (i, raw, batch), device_batch in prefetch_lib.prefetch(
          augmented(), lambda item: runner.put_batch(item[2]), prefetch_lib.DEFAULT_SIZE):
        if placed is not None:
          placed.append(device_batch if batch is raw else runner.put_batch(raw))
          if not recalibrate.fits(placed):
            placed = None
        dstate, out = runner.step(dstate, device_batch, rng)
        step += 1
        stop = sigterm.reached(step)  # every step, on every host (multi-host agreement)
        pending.append((step, out["loss"]))
        throughput.tick()
        bar.update(1)
        end_of_epoch = i == spe - 1
        if step % max(int(config.log_every_steps), 1) == 0:
          check_finite()
        if (config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0
            and not end_of_epoch):
          check_finite()
          save(step)
        if stop and not end_of_epoch:
          break
      else:
        if step != (epoch + 1) * spe:
          raise ValueError(f"Epoch {epoch} gave {step - epoch * spe} batches, expected {spe}; "
                           "train_batches(epoch) must yield at least steps_per_epoch batches.")
        check_finite()  # blocks on the epoch's last loss: the steps are done
        timer.mark("steps")
        validate(epoch, placed)
        del placed
        save(step, epoch_end=True)
        epoch_times.append(timer.seconds())
        book.write("epoch_time", step, epoch=epoch, **epoch_times[-1])
        if not sigterm.raised:
          continue
      check_finite()
      save(step, force=True)
      ckpts.wait()
      logging.warning("Preempted (SIGTERM on a host): saved step %d under %s/checkpoints; "
                      "exiting.", step, workdir)
      raise Preempted(step)
    check_finite()
    ckpts.wait()
    best_checkpoint = ckpts.best_dir()
  finally:
    bar.close()
    sigterm.restore()
    ckpts.wait()
    ckpts.close()
    book.close()
  final = host_state()
  best = meta["best"] or {}
  result = TrainResult(
      workdir=workdir, learning_rate=learning_rate, metric=metric,
      best_metric=best.get("value"), best_epoch=best.get("epoch"),
      best_checkpoint=best_checkpoint, history=list(meta["history"]), final_step=step,
      examples_per_second=throughput.overall().get("examples_per_second"),
      epoch_times=epoch_times)
  return jax.tree.map(np.asarray, final.variables()), result


def _make_evaluator(task: TrainTask):
  if task.valid_batches is None:
    return None
  run, put_variables = data_parallel.make_eval_fn(
      step_lib.make_eval_step(task.module, task.prepare, task.sample_rate))

  cache: list = []  # [batches] once read, when the split is small (see _cached)

  def evaluate(variables: dict, placed: bool = False) -> dict[str, float]:
    device_vars = variables if placed else put_variables(variables)
    logits, labels = [], []
    for batch in _cached(task.valid_batches, cache):
      out = run(device_vars, batch)
      keep = out["mask"].astype(bool)
      logits.append(out["logits"][keep])
      labels.append(out["label"][keep])
    if not logits or sum(len(x) for x in logits) == 0:
      raise ValueError("The validation split gave no examples; cannot select the best epoch.")
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    target = losses.targets(jnp.asarray(labels), task.num_classes, task.task)
    loss = float(jnp.mean(losses.per_example_loss(jnp.asarray(logits), target, task.task)))
    return metrics_lib.validation_metrics(logits, labels, task.task, loss)

  return evaluate


# Validation batches are kept in host memory up to this size: they are the same every epoch,
# and on a small set rebuilding the input pipeline costs more than the forward pass.
VALID_CACHE_BYTES = 256 << 20


def _cached(make_batches: Callable[[], Iterable[dict]], cache: list) -> Iterable[dict]:
  if cache:
    return make_batches() if cache[0] is None else cache[0]
  kept, size = [], 0
  for batch in make_batches():
    size += sum(np.asarray(v).nbytes for v in batch.values())
    if size > VALID_CACHE_BYTES:
      cache.append(None)  # too big to keep: read afresh every time (and now)
      return make_batches()
    kept.append(batch)
  cache.append(kept)
  return kept


def _global_frontend(setting, task: TrainTask) -> bool:
  if setting == "auto":
    return bool(task.frontend_on_global_batch)
  if setting in ("global", "device"):
    return setting == "global"
  raise ValueError(f"train.frontend_batch={setting!r}; expected 'auto', 'global' or 'device'.")


def _better(value: float, best: dict | None, mode: str) -> bool:
  if not math.isfinite(value):
    return False
  if best is None:
    return True
  return value > best["value"] if mode == "max" else value < best["value"]


def _check_same_run(saved: dict, current: dict, workdir: str) -> None:
  for key in ("learning_rate", "steps_per_epoch"):
    if saved.get(key) != current[key]:
      raise ValueError(f"{workdir}/checkpoints belongs to a run with {key}={saved.get(key)}, "
                       f"this run has {current[key]}. Resume with the same config or use a new "
                       "workdir.")
