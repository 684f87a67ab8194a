"""The BEANS fine-tuning protocol in PyTorch, on the suite's own tf.data batches.

    backbone, result = torch_finetune(zoo.resolve("rn18"), train_split, valid_split, config.train)

What BEANS' PyTorch trainer does, spelled out: the model's torch reference with a NEW nn.Linear
head on its embedding (the torchvision 1000-d output is kept, as in the paper), Adam on every
parameter (except the preset's frozen prefixes, e.g. HuBERT's CNN encoder), cross-entropy for
classification or BCEWithLogits on multi-hot targets for detection, `num_epochs` epochs per
learning rate of `train.learning_rates`, and the epoch + learning rate with the best validation
accuracy (classification) or mAP (detection). Seeded with `train.seed` (42).

Like for like with the JAX trainer (train/finetune.py), by construction rather than by copy:
- the same batches: `finetune.epoch_batches` (one data order per (seed, epoch)), with padded rows
  (mask False) dropped before the forward pass; host augmentation with the same per-batch draws
  (`augment.batch_rng(seed, epoch, step)`); device-side augmentation (SpecAugment, mixup) has no
  torch twin and is refused;
- the same head at the start (`models.classifier.head_init`, torch nn.Linear's distribution);
- the same BatchNorm recalibration before each validation (`train.bn_recalibration="precise"`:
  pooled batch moments over the epoch's training batches, as train/recalibration.py);
- the same lr grid, select metric and selection (first best on ties), validation metrics from
  train/metrics.py (plain numpy), speed through train/timing.py's `train_speed`;
- CUDA when there is one, with bf16 autocast where the JAX trainer computes in bf16
  (`train.mixed_precision`).
What stays different: the random draws of dropout / stochastic depth (torch's RNG), and the
floating-point order of the two frameworks' kernels.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from typing import Callable

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import numpy as np
import torch

from bioacoustics_jax import dtypes
from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.data import augment as augment_lib
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.models.classifier import head_init
from bioacoustics_jax.train import finetune as finetune_lib
from bioacoustics_jax.train import metrics as metrics_lib
from bioacoustics_jax.train import timing
from bioacoustics_jax.zoo import Backbone


@dataclasses.dataclass
class TorchRun:
  """One learning rate's run. `history`: one dict per epoch (epoch, train_loss,
  train_accuracy (classification), then the validation metrics: loss, accuracy or map)."""

  learning_rate: float
  metric: str
  best_metric: float | None
  best_epoch: int | None
  history: list[dict[str, float]]
  seconds: float
  epoch_times: list[dict[str, float]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TorchFinetuneResult:
  """The selected run and every run of the sweep (same order as the learning rates)."""

  best: TorchRun
  runs: list[TorchRun]
  speed: dict = dataclasses.field(default_factory=dict)  # timing.train_speed of the best run
  device: dict = dataclasses.field(default_factory=dict)  # device_kind, device_count, dtype


class TorchClassifier(torch.nn.Module):
  """`head(backbone(x))`: a fresh Linear on the backbone's embedding, initialised from
  `head_init(seed)` (the JAX trainer's head at the same seed)."""

  def __init__(self, backbone: torch_embed.TorchBackbone, num_classes: int, embedding_dim: int,
               seed: int):
    super().__init__()
    self.backbone = backbone
    self.head = torch.nn.Linear(embedding_dim, num_classes)
    start = head_init(seed, embedding_dim, num_classes)
    with torch.no_grad():
      self.head.weight.copy_(torch.from_numpy(start["kernel"].T.copy()))
      self.head.bias.copy_(torch.from_numpy(start["bias"]))

  def forward(self, inputs: torch.Tensor) -> torch.Tensor:
    return self.head(self.backbone(inputs))


def torch_finetune(model: Backbone, train_split: pipeline.SplitData,
                   valid_split: pipeline.SplitData | None, train_config, *,
                   backbone: torch_embed.TorchBackbone | None = None,
                   log: Callable[[str], None] = print,
                   ) -> tuple[torch_embed.TorchBackbone, TorchFinetuneResult]:
  """Fine-tunes `model`'s torch reference; returns (best backbone in eval mode, result).

  Args:
    model: the resolved model (zoo.resolve).
    train_split, valid_split: pipeline splits (valid None: keep the last epoch).
    train_config: `train.config.default_train_config()` or an override; reads seed,
      batch_size, num_epochs, learning_rate(s), select_metric, eval_batch_size,
      drop_background, max_steps_per_epoch, freeze_prefixes (torch parameter names of the
      reference, dotted or slashed: "conv1", "layer1/0").
    backbone: starting backbone (a copy is trained per learning rate); None builds it with
      `torch_embed.build_backbone` (random init from the seed, or the preset's weight file).
    log: one line per epoch.
  """
  cfg = train_config
  _check_supported(cfg)
  info = train_split.info
  if backbone is None:
    backbone = torch_embed.build_backbone(model, seed=int(cfg.seed))
  rate = model.input_rate(info.sample_rate)
  dev = torch_embed.device()
  dtype = train_dtype(cfg.mixed_precision, dev)
  with torch.no_grad():  # the head's input size, whatever the overrides made it (and a first
    # forward, after which weight-normed modules can be deep-copied)
    dim = backbone.eval().embed_audio(np.zeros((1, info.num_samples(rate)), np.float32),
                                      rate).shape[-1]
  backbone = copy.deepcopy(backbone).to(dev)
  data = _TrainData(info.task, *finetune_lib.epoch_batches(train_split, rate, cfg,
                                                           process_batch=int(cfg.batch_size)),
                    bank=finetune_lib.background_bank(cfg.augment, train_split, rate))
  metric, mode = metrics_lib.select_key(cfg.select_metric, info.task)
  frozen = model.frozen_prefixes + tuple(cfg.freeze_prefixes)
  lrs = tuple(cfg.learning_rates) or (float(cfg.learning_rate),)
  runs, best_states = [], []
  for lr in lrs:
    torch.manual_seed(int(cfg.seed))  # dropout draws (not shared with JAX)
    classifier = TorchClassifier(copy.deepcopy(backbone), info.num_classes, dim, int(cfg.seed))
    trainable = _trainable(classifier, frozen)
    optimizer = torch.optim.Adam(trainable, lr=float(lr))
    run, state = _fit(classifier, optimizer, data, valid_split, cfg, rate, float(lr), metric,
                      mode, log, dev, torch_embed.compute_dtype(dtype))
    runs.append(run)
    best_states.append(state)
  scored = [i for i, r in enumerate(runs) if r.best_metric is not None]
  sign = 1.0 if mode == "max" else -1.0
  chosen = max(scored, key=lambda i: sign * runs[i].best_metric) if scored else len(runs) - 1
  out = copy.deepcopy(backbone)
  out.load_state_dict(best_states[chosen])
  rows = min(data.steps * data.batch_size, train_split.count(drop_background=cfg.drop_background))
  return out.eval(), TorchFinetuneResult(
      best=runs[chosen], runs=runs, speed=timing.train_speed(runs[chosen].epoch_times, rows),
      device=dict(torch_embed.device_info(dev), dtype=dtype))


@dataclasses.dataclass
class _TrainData:
  """The JAX trainer's training batches (finetune.epoch_batches) and background bank."""

  task: str
  batches: Callable[[int], object]
  steps: int
  batch_size: int
  bank: augment_lib.BackgroundBank | None = None


def train_dtype(mixed_precision: str, dev: torch.device) -> str:
  """train.mixed_precision -> the compute dtype, as the JAX trainer decides it: bf16 on an
  accelerator under "auto", always under "bf16", never under "off"."""
  return dtypes.train_dtype(mixed_precision, "gpu" if dev.type == "cuda" else dev.type)


def _check_supported(cfg) -> None:
  """Settings of the JAX trainer this baseline cannot mirror: refused, never silently ignored."""
  aug = cfg.augment
  if aug.freq_masks or aug.time_masks or aug.mixup_alpha > 0:
    raise ValueError("train.augment freq_masks / time_masks / mixup_alpha (device-side, drawn "
                     "from JAX's RNG inside the step) have no PyTorch twin; set them to 0 for "
                     "torch: cells.")
  if cfg.optimizer != "adam" or cfg.schedule != "constant" or cfg.warmup_steps or (
      cfg.grad_clip_norm > 0):
    raise ValueError(f"The PyTorch baseline trains with constant-lr Adam (BEANS); got "
                     f"train.optimizer={cfg.optimizer!r}, schedule={cfg.schedule!r}, "
                     f"warmup_steps={cfg.warmup_steps}, grad_clip_norm={cfg.grad_clip_norm}.")


def _trainable(model: TorchClassifier, frozen: tuple[str, ...]) -> list[torch.nn.Parameter]:
  """Parameters left trainable; frozen prefixes are matched on the reference's own names."""
  prefixes = [p.replace("/", ".").rstrip(".") for p in frozen]
  named = dict(model.backbone.reference.named_parameters())
  for prefix in prefixes:
    hits = [n for n in named if n == prefix or n.startswith(prefix + ".")]
    if not hits:
      raise ValueError(f"Frozen prefix {prefix!r} matches no parameter of the PyTorch "
                       f"reference; its top-level modules are "
                       f"{sorted({n.split('.')[0] for n in named})}.")
    for name in hits:
      named[name].requires_grad_(False)
  return [p for p in model.parameters() if p.requires_grad]


def _loss_fn(task: str):
  if task == "classification":
    return lambda logits, y: torch.nn.functional.cross_entropy(logits, y.long())
  # BCEWithLogits, mean over examples and classes (BEANS; train/losses.py does the same).
  return lambda logits, y: torch.nn.functional.binary_cross_entropy_with_logits(logits, y.float())


def _fit(model, optimizer, data: _TrainData, valid_split, cfg, rate: int, lr: float,
         metric: str, mode: str, log, dev: torch.device,
         amp: torch.dtype | None) -> tuple[TorchRun, dict]:
  loss_fn = _loss_fn(data.task)
  start = time.perf_counter()
  history: list[dict[str, float]] = []
  epoch_times: list[dict[str, float]] = []
  best_value, best_epoch, best_state = None, None, None
  timer = timing.EpochTimer()
  for epoch in range(int(cfg.num_epochs)):
    timer.start()
    model.train()
    losses, correct, seen = [], 0, 0
    for step, batch in enumerate(itertools.islice(data.batches(epoch), data.steps)):
      batch = augment_lib.host_augment(batch, augment_lib.batch_rng(cfg.seed, epoch, step),
                                       cfg.augment, rate, data.bank)
      mask = np.asarray(batch["mask"], bool)
      if not mask.any():  # a top-up batch of padding only
        continue
      labels = torch.from_numpy(np.array(batch["label"])[mask]).to(dev)
      inputs = model.backbone.prepare(np.asarray(batch["audio"])[mask], rate)
      with torch_embed.autocast(dev, amp):
        logits = model(inputs).float()
      loss = loss_fn(logits, labels)
      if not torch.isfinite(loss):
        raise FloatingPointError(f"Non-finite training loss at epoch {epoch}, step {step} (lr "
                                 f"{lr}); lower the learning rate or check the inputs.")
      optimizer.zero_grad(set_to_none=True)
      loss.backward()
      optimizer.step()
      losses.append(loss.item())  # .item() waits for the device: step times are real
      if data.task == "classification":
        correct += int((logits.argmax(-1) == labels).sum())
        seen += len(labels)
    if not losses:
      raise ValueError("The training split gave no examples; cannot fine-tune.")
    timer.mark("steps")
    row = {"epoch": epoch, "train_loss": float(np.mean(losses))}
    if seen:
      row["train_accuracy"] = correct / seen
    if cfg.bn_recalibration == "precise":
      with timer.phase("recalibrate"):
        recalibrate_bn(model, data.batches(epoch), rate, int(cfg.bn_recalibration_batches),
                       dev, amp)
    if valid_split is not None:
      with timer.phase("validate"):
        row.update(evaluate(model, valid_split, int(cfg.eval_batch_size), rate,
                            bool(cfg.drop_background), amp=amp))
    history.append(row)
    log(f"torch lr={lr:g} epoch {epoch}: " + ", ".join(
        f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"))
    value = row.get(metric)
    if value is not None and (best_value is None
                              or (value > best_value if mode == "max" else value < best_value)):
      best_value, best_epoch = value, epoch
      best_state = copy.deepcopy(model.backbone.state_dict())
    epoch_times.append(timer.seconds())
  if best_state is None:  # no validation: the last epoch's parameters
    best_state = copy.deepcopy(model.backbone.state_dict())
  run = TorchRun(learning_rate=lr, metric=metric, best_metric=best_value, best_epoch=best_epoch,
                 history=history, seconds=round(time.perf_counter() - start, 3),
                 epoch_times=epoch_times)
  return run, best_state


def recalibrate_bn(model: TorchClassifier, batches, rate: int, max_batches: int,
                   dev: torch.device, amp: torch.dtype | None) -> None:
  """Precise BN, as train/recalibration.py: every BatchNorm's running statistics become the
  pooled moments of a train-mode, no-gradient pass over (up to `max_batches`, 0 = all) training
  batches, each weighted by its real rows: mean = E_b[mean_b], var = E_b[var_b + mean_b**2] -
  mean**2, with var_b torch's unbiased batch variance (what momentum 1 writes)."""
  norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
  if not norms:
    return
  saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
  sums = [[0.0, 0.0, 0.0] for _ in norms]
  count = 0
  model.train()
  with torch.no_grad():
    for m in norms:
      m.momentum = 1.0  # running stats := this batch's
    for i, batch in enumerate(batches):
      if max_batches and i >= max_batches:
        break
      mask = np.asarray(batch["mask"], bool)
      rows = int(mask.sum())
      if not rows:
        continue
      inputs = model.backbone.prepare(np.asarray(batch["audio"])[mask], rate)
      with torch_embed.autocast(dev, amp):
        model.backbone(inputs)
      for acc, m in zip(sums, norms):
        mean = m.running_mean.double()
        acc[0] = acc[0] + rows * mean
        acc[1] = acc[1] + rows * m.running_var.double()
        acc[2] = acc[2] + rows * mean ** 2
      count += rows
    if not count:
      raise ValueError("BN recalibration got no training rows; set train.bn_recalibration="
                       "'off' or check the training split.")
    for acc, m, (momentum, tracked) in zip(sums, norms, saved):
      mean = acc[0] / count
      m.running_mean.copy_(mean.float())
      m.running_var.copy_((acc[1] / count + acc[2] / count - mean ** 2).clamp_min(0).float())
      m.momentum = momentum
      m.num_batches_tracked.copy_(tracked)


def evaluate(model: TorchClassifier, split: pipeline.SplitData, batch_size: int, rate: int,
             drop_background: bool = False, amp: torch.dtype | None = None) -> dict[str, float]:
  """Validation loss + accuracy (classification) or mAP (detection), eval mode, no grad.
  The batch is the JAX evaluator's (eval_batch_size, no larger than the split)."""
  model.eval()
  dev = next(model.parameters()).device
  batch_size = min(batch_size, max(split.num_examples, 1))
  logits, labels = [], []
  with torch.no_grad():
    for batch in split.numpy_batches(batch_size=batch_size, sample_rate=rate,
                                     drop_background=drop_background):
      mask = np.asarray(batch["mask"], bool)
      if not mask.any():
        continue
      # The whole padded batch goes through the recipe (zero rows leave its maximum alone), as
      # in the JAX evaluator.
      with torch_embed.autocast(dev, amp):
        out = model(model.backbone.prepare(batch["audio"], rate)).float().cpu().numpy()
      logits.append(out[mask])
      labels.append(np.asarray(batch["label"])[mask])
  if not logits:
    raise ValueError("The validation split gave no examples; cannot select the best epoch.")
  logits_np, labels_np = np.concatenate(logits), np.concatenate(labels)
  loss = float(_loss_fn(split.info.task)(torch.from_numpy(logits_np), torch.from_numpy(labels_np)))
  return metrics_lib.validation_metrics(logits_np, labels_np, split.info.task, loss)
