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
import numpy as np
from absl import logging
from tqdm import tqdm

from bioacoustics_jax.data import augment as augment_lib
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.parallel import preemption
from bioacoustics_jax.parallel import prefetch as prefetch_lib
from bioacoustics_jax.train import checkpointing
from bioacoustics_jax.train import config as config_lib
from bioacoustics_jax.train import logbook as logbook_lib
from bioacoustics_jax.train import metrics as metrics_lib
from bioacoustics_jax.train import optimizer as optimizer_lib
from bioacoustics_jax.train import recalibration
from bioacoustics_jax.train import step as step_lib
from bioacoustics_jax.train import timing
from bioacoustics_jax.train import validation
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
  return _Fit(task, config, workdir, learning_rate).run()


class _Fit:
  """One `fit` call. Its state, all of it here:
    dstate        the train state on the devices (donated step by step; never the host copy)
    step          steps done so far (a resumed run starts at its checkpoint's)
    meta          what a checkpoint records beside the state: lr, steps per epoch, the
                  validation history and the best epoch so far
    placed        this epoch's device batches kept for BatchNorm recalibration (or None)
    pending       (step, loss) pairs still on the devices, checked for NaN/inf in one copy
    last_save     when the last resume point was written
    epoch_times   one timing.EpochTimer dict per epoch run here
  Everything else is set once in __init__ and only read: the task and config, the runner of
  the step, the checkpoint manager, the validation function, the logbook.
  """

  def __init__(self, task: TrainTask, config, workdir: str, learning_rate: float):
    self.task, self.config, self.workdir, self.learning_rate = task, config, workdir, learning_rate
    self.spe = int(task.steps_per_epoch)
    if self.spe <= 0:
      raise ValueError("steps_per_epoch is 0: the training split has fewer examples than one "
                       "batch per process. Lower train.batch_size or add data.")
    self.metric, self.mode = metrics_lib.select_key(config.select_metric, task.task)
    self.total_steps = self.spe * int(config.num_epochs)
    self.label = f"train lr={learning_rate:g}"  # the progress bar's
    tx = optimizer_lib.make_optimizer(config, task.variables["params"], self.total_steps,
                                      learning_rate, task.frozen_prefixes)
    state = TrainState.create(task.variables, tx)
    self.ckpts = checkpointing.RunCheckpoints(workdir, metric=self.metric, mode=self.mode,
                                              keep=config.keep_checkpoints,
                                              async_save=config.async_checkpointing)
    self.meta = {"learning_rate": learning_rate, "steps_per_epoch": self.spe, "history": [],
                 "best": None}
    restored = self.ckpts.restore_state(jax.tree.map(np.asarray, state.to_checkpoint()))
    if restored is not None:
      state = state.from_checkpoint(restored[0])
      _check_same_run(restored[1], self.meta, workdir)
      self.meta = dict(restored[1])
    self.step = int(state.step)

    global_frontend = _global_frontend(config.frontend_batch, task)
    per_device = step_lib.make_train_step(
        task.module, task.prepare, task.sample_rate, task=task.task, num_classes=task.num_classes,
        compute_dtype=task.compute_dtype, device_augment=augment_lib.device_augment(config.augment),
        frontend_on_global_batch=global_frontend)
    self.per_device = per_device  # train/grid_fit.py vmaps it over a learning-rate grid
    self.runner = data_parallel.DataParallel(per_device, config.parallel)
    self.recalibrate = None
    if recalibration.enabled(config, task.variables):
      self.recalibrate = recalibration.Recalibrator(
          task, self.runner, compute_dtype=task.compute_dtype,
          frontend_on_global_batch=global_frontend, max_batches=config.bn_recalibration_batches,
          seed=config.seed)
    self.evaluate = validation.make_evaluator(task)
    self.book = logbook_lib.Logbook(workdir, tensorboard=config.tensorboard)
    self.rng = self.runner.put_rng(jax.random.key(int(config.seed)))
    self.dstate = self.runner.put_state(state)  # the host `state` is not touched again

    self.last_save = time.perf_counter()
    self.timer = timing.EpochTimer()
    self.epoch_times: list[dict] = []
    self.placed: list | None = None
    self.pending: list[tuple[int, jax.Array]] = []
    self._host_copy: tuple[Any, Any] = (None, None)  # (device state it was copied from, copy)

  def run(self) -> tuple[dict, TrainResult]:
    step, spe, config = self.step, self.spe, self.config
    self.validate_missed_epoch()
    self.sigterm = preemption.StopFlag()  # SIGTERM on any host: all stop at one step
    self.throughput = timing.Throughput(config.batch_size)
    self.bar = tqdm(total=self.total_steps, initial=step, desc=self.label,
                    disable=not config.progress_bar or jax.process_index() != 0,
                    mininterval=2.0, leave=False)
    try:
      for epoch in range(step // spe, int(config.num_epochs)):
        self.timer.start()
        if self.train_epoch(epoch):
          self.end_epoch(epoch)
          if not self.sigterm.raised:
            continue
        self.stop_preempted()
      self.check_finite()
      best_checkpoint = self.best_checkpoint()
    finally:
      self.bar.close()
      self.sigterm.restore()
      self.close()
    return self.outcome(best_checkpoint, self.throughput.overall().get("examples_per_second"))

  def adopt(self, dstate) -> None:
    """Takes `dstate` as the run's device state (a grid member's slice, train/grid_fit.py)."""
    self.dstate, self._host_copy = dstate, (None, None)

  def validate_missed_epoch(self) -> None:
    """A checkpoint taken at an epoch boundary before that epoch's validation ran (kill in
    between): validate now, with exactly the parameters the epoch ended with."""
    step, spe = self.step, self.spe
    if step and step % spe == 0 and len(self.meta["history"]) < step // spe:
      self.validate(step // spe - 1)

  def best_checkpoint(self) -> str | None:
    self.ckpts.wait()
    return self.ckpts.best_dir()

  def close(self) -> None:
    self.ckpts.wait()
    self.ckpts.close()
    self.book.close()

  def outcome(self, best_checkpoint: str | None,
              examples_per_second: float | None) -> tuple[dict, TrainResult]:
    """(final variables as numpy, TrainResult) once the run is over."""
    final = self.host_state()
    best = self.meta["best"] or {}
    result = TrainResult(
        workdir=self.workdir, learning_rate=self.learning_rate, metric=self.metric,
        best_metric=best.get("value"), best_epoch=best.get("epoch"),
        best_checkpoint=best_checkpoint, history=list(self.meta["history"]),
        final_step=self.step, examples_per_second=examples_per_second,
        epoch_times=self.epoch_times)
    return jax.tree.map(np.asarray, final.variables()), result

  def train_epoch(self, epoch: int) -> bool:
    """Runs epoch `epoch`'s remaining steps; False when SIGTERM stopped it part way."""
    config, spe = self.config, self.spe
    skip = self.step - epoch * spe
    batches = itertools.islice(self.task.train_batches(epoch), skip, spe)
    # Recalibration reuses this epoch's (unaugmented) device batches when they are all it
    # needs and fit in a small budget; else it reads the epoch's batches again. Either way
    # it sees the same rows, so a resumed epoch (skip > 0) recalibrates to the same bits.
    self.placed = [] if (self.recalibrate is not None and skip == 0
                         and self.recalibrate.can_reuse(spe)) else None
    for (i, raw, batch), device_batch in prefetch_lib.prefetch(
        self.augmented(batches, epoch, skip), lambda item: self.runner.put_batch(item[2]),
        prefetch_lib.DEFAULT_SIZE):
      if self.placed is not None:
        self.placed.append(device_batch if batch is raw else self.runner.put_batch(raw))
        if not self.recalibrate.fits(self.placed):
          self.placed = None
      self.dstate, out = self.runner.step(self.dstate, device_batch, self.rng)
      self.step += 1
      stop = self.sigterm.reached(self.step)  # every step, on every host (multi-host agreement)
      self.pending.append((self.step, out["loss"]))
      self.throughput.tick()
      self.bar.update(1)
      end_of_epoch = i == spe - 1
      if self.step % max(int(config.log_every_steps), 1) == 0:
        self.check_finite()
      if (config.checkpoint_every_steps and self.step % config.checkpoint_every_steps == 0
          and not end_of_epoch):
        self.check_finite()
        self.save(self.step)
      if stop and not end_of_epoch:
        return False
    if self.step != (epoch + 1) * spe:
      raise ValueError(f"Epoch {epoch} gave {self.step - epoch * spe} batches, expected {spe}; "
                       "train_batches(epoch) must yield at least steps_per_epoch batches.")
    return True

  def augmented(self, batches: Iterable[dict], epoch: int, skip: int):
    """(step in epoch, raw batch, host-augmented batch), seeded by (seed, epoch, step, process)."""
    config, task = self.config, self.task
    for i, raw in enumerate(batches, start=skip):
      yield i, raw, augment_lib.host_augment(
          raw, augment_lib.batch_rng(config.seed, epoch, i, jax.process_index()),
          config.augment, task.sample_rate, task.background)

  def end_epoch(self, epoch: int) -> None:
    self.check_finite()  # blocks on the epoch's last loss: the steps are done
    self.timer.mark("steps")
    placed, self.placed = self.placed, None
    self.validate(epoch, placed)
    del placed
    self.save(self.step, epoch_end=True)
    self.epoch_times.append(self.timer.seconds())
    self.book.write("epoch_time", self.step, epoch=epoch, **self.epoch_times[-1])

  def stop_preempted(self) -> None:
    self.check_finite()
    self.save(self.step, force=True)
    self.ckpts.wait()
    logging.warning("Preempted (SIGTERM on a host): saved step %d under %s/checkpoints; "
                    "exiting.", self.step, self.workdir)
    raise Preempted(self.step)

  def host_state(self) -> TrainState:
    """The state on the host, copied once per distinct device state (the epoch end's best
    checkpoint and resume point share one copy)."""
    if self._host_copy[0] is not self.dstate:
      self._host_copy = (self.dstate, self.runner.host_state(self.dstate))
    return self._host_copy[1]

  def save(self, at_step: int, *, force: bool = False, epoch_end: bool = False) -> None:
    # Epoch-end resume points at most every checkpoint_min_interval_seconds (the last epoch
    # and SIGTERM always): on a small set an orbax save per 1-step epoch is most of the epoch.
    if (epoch_end and not force and at_step < self.total_steps
        and time.perf_counter() - self.last_save
        < float(self.config.checkpoint_min_interval_seconds)):
      return
    with self.timer.phase("checkpoint"):
      self.ckpts.save_state(at_step, self.host_state().to_checkpoint(), self.meta, force=force)
    self.last_save = time.perf_counter()

  def validate(self, epoch: int, placed_batches: list | None = None) -> None:
    task, spe, metric = self.task, self.spe, self.metric
    if self.recalibrate is not None:
      # Running statistics of the weights the epoch ended with, before anything reads them
      # (validation, best checkpoint, the resume point saved next).
      with self.timer.phase("recalibrate"):
        dstate = self.dstate
        if placed_batches is not None:
          stats = self.recalibrate(dstate.params, dstate.batch_stats, placed_batches, placed=True)
        else:
          stats = self.recalibrate(dstate.params, dstate.batch_stats, task.train_batches(epoch))
        self.dstate = dstate.replace(batch_stats=self.runner.put_state(stats))
    with self.timer.phase("validate"):
      # shard_map's state is already replicated on the eval mesh: no host round trip.
      on_device = self.runner.mode == "shard_map"
      variables = self.dstate.variables() if on_device else self.host_state().variables()
      values = self.evaluate(variables, placed=on_device) if self.evaluate else {}
      values = {k: float(v) for k, v in values.items()}
    self.meta["history"].append({"epoch": epoch, "step": (epoch + 1) * spe, **values})
    self.book.write("valid", (epoch + 1) * spe, epoch=epoch, **values)
    logbook_lib.log_epoch(epoch, values, self.learning_rate)
    if metric in values and _better(values[metric], self.meta["best"], self.mode):
      self.meta["best"] = {"value": values[metric], "epoch": epoch, "step": (epoch + 1) * spe}
      with self.timer.phase("checkpoint"):
        self.ckpts.save_best((epoch + 1) * spe, self.host_state().variables(), values,
                             {"epoch": epoch, "learning_rate": self.learning_rate,
                              metric: values[metric]})

  def check_finite(self) -> None:
    """Pulls the pending losses in one copy; a non-finite one stops the run with the fix."""
    values = [(s, float(v)) for s, v in jax.device_get(self.pending)]  # one explicit copy
    self.pending.clear()
    self.check_losses(values, self.throughput.window())

  def check_losses(self, values: list[tuple[int, float]], rates: dict) -> None:
    """A non-finite loss among (step, loss) `values` stops the run; else they are logged."""
    bad = [(s, v) for s, v in values if not math.isfinite(v)]
    if bad:
      self.ckpts.wait()
      raise FloatingPointError(
          f"Non-finite training loss {bad[0][1]} at step {bad[0][0]} (lr {self.learning_rate}). "
          f"Stopped; the last good checkpoint is step {self.ckpts.latest_step()} under "
          f"{self.workdir}/checkpoints (nothing after the divergence was saved). Lower "
          "train.learning_rate, set train.grad_clip_norm, or check the inputs for NaN/inf.")
    if values:
      self.book.write("train", values[-1][0], loss=float(np.mean([v for _, v in values])),
                      **rates)


def _global_frontend(setting, task: TrainTask) -> bool:
  if setting == "auto":
    return bool(task.frontend_on_global_batch)
  if setting in config_lib.FRONTEND_BATCH[1:]:
    return setting == "global"
  raise ValueError(f"train.frontend_batch={setting!r}; expected one of "
                   f"{list(config_lib.FRONTEND_BATCH)}.")


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
