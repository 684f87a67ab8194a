"""The BEANS fine-tuning protocol in PyTorch, on the suite's own tf.data batches.

    backbone, result = torch_finetune(zoo.resolve("rn18"), train_split, valid_split, config.train)

What BEANS' PyTorch trainer does, spelled out: the model's torch reference with a NEW nn.Linear
head on its embedding (the torchvision 1000-d output is kept, as in the paper), Adam on every
parameter (except the preset's frozen prefixes, e.g. HuBERT's CNN encoder), cross-entropy for
classification or BCEWithLogits on multi-hot targets for detection, `num_epochs` epochs per
learning rate of `train.learning_rates`, and the epoch + learning rate with the best validation
accuracy (classification) or mAP (detection). Seeded with `train.seed` (42).

Batches are the JAX trainer's: `train_split.numpy_batches(train=True, seed=epoch_seed(seed,
epoch))`, so both frameworks see the same examples in the same order every epoch. Padded rows
(mask False) are dropped before the forward pass, which makes the last batch of an epoch smaller,
as BEANS' DataLoader does. Validation metrics come from train/metrics.py (plain numpy).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Callable

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import numpy as np
import torch

from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data.order import epoch_seed
from bioacoustics_jax.train import metrics as metrics_lib
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


@dataclasses.dataclass
class TorchFinetuneResult:
  """The selected run and every run of the sweep (same order as the learning rates)."""

  best: TorchRun
  runs: list[TorchRun]


class TorchClassifier(torch.nn.Module):
  """`head(backbone(x))`: a fresh Linear on the backbone's embedding."""

  def __init__(self, backbone: torch_embed.TorchBackbone, num_classes: int, embedding_dim: int):
    super().__init__()
    self.backbone = backbone
    self.head = torch.nn.Linear(embedding_dim, num_classes)

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
  info = train_split.info
  if backbone is None:
    backbone = torch_embed.build_backbone(model, seed=int(cfg.seed))
  rate = model.input_rate(info.sample_rate)
  with torch.no_grad():  # the head's input size, whatever the overrides made it
    dim = backbone.eval().embed_audio(np.zeros((1, info.num_samples(rate)), np.float32),
                                      rate).shape[-1]
  metric, mode = metrics_lib.select_key(cfg.select_metric, info.task)
  frozen = model.frozen_prefixes + tuple(cfg.freeze_prefixes)
  lrs = tuple(cfg.learning_rates) or (float(cfg.learning_rate),)
  runs, best_states = [], []
  for lr in lrs:
    torch.manual_seed(int(cfg.seed))
    model = TorchClassifier(copy.deepcopy(backbone), info.num_classes, dim)
    trainable = _trainable(model, frozen)
    optimizer = torch.optim.Adam(trainable, lr=float(lr))
    run, state = _fit(model, optimizer, train_split, valid_split, cfg, rate, float(lr), metric,
                      mode, log)
    runs.append(run)
    best_states.append(state)
  scored = [i for i, r in enumerate(runs) if r.best_metric is not None]
  sign = 1.0 if mode == "max" else -1.0
  chosen = max(scored, key=lambda i: sign * runs[i].best_metric) if scored else len(runs) - 1
  out = copy.deepcopy(backbone)
  out.load_state_dict(best_states[chosen])
  return out.eval(), TorchFinetuneResult(best=runs[chosen], runs=runs)


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


def _fit(model, optimizer, train_split, valid_split, cfg, rate: int, lr: float, metric: str,
         mode: str, log) -> tuple[TorchRun, dict]:
  task = train_split.info.task
  loss_fn = _loss_fn(task)
  start = time.perf_counter()
  history: list[dict[str, float]] = []
  best_value, best_epoch, best_state = None, None, None
  for epoch in range(int(cfg.num_epochs)):
    model.train()
    losses, correct, seen = [], 0, 0
    batches = train_split.numpy_batches(
        batch_size=int(cfg.batch_size), sample_rate=rate, train=True,
        seed=epoch_seed(int(cfg.seed), epoch), drop_background=bool(cfg.drop_background))
    for step, batch in enumerate(batches):
      if cfg.max_steps_per_epoch and step >= int(cfg.max_steps_per_epoch):
        break
      mask = np.asarray(batch["mask"], bool)
      if not mask.any():  # a top-up batch of padding only
        continue
      labels = torch.from_numpy(np.array(batch["label"])[mask])
      logits = model(model.backbone.prepare(np.asarray(batch["audio"])[mask], rate))
      loss = loss_fn(logits, labels)
      if not torch.isfinite(loss):
        raise FloatingPointError(f"Non-finite training loss at epoch {epoch}, step {step} (lr "
                                 f"{lr}); lower the learning rate or check the inputs.")
      optimizer.zero_grad(set_to_none=True)
      loss.backward()
      optimizer.step()
      losses.append(loss.item())
      if task == "classification":
        correct += int((logits.argmax(-1) == labels).sum())
        seen += len(labels)
    if not losses:
      raise ValueError("The training split gave no examples; cannot fine-tune.")
    row = {"epoch": epoch, "train_loss": float(np.mean(losses))}
    if seen:
      row["train_accuracy"] = correct / seen
    if valid_split is not None:
      row.update(evaluate(model, valid_split, int(cfg.eval_batch_size), rate,
                          bool(cfg.drop_background)))
    history.append(row)
    log(f"torch lr={lr:g} epoch {epoch}: " + ", ".join(
        f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"))
    value = row.get(metric)
    if value is not None and (best_value is None
                              or (value > best_value if mode == "max" else value < best_value)):
      best_value, best_epoch = value, epoch
      best_state = copy.deepcopy(model.backbone.state_dict())
  if best_state is None:  # no validation: the last epoch's parameters
    best_state = copy.deepcopy(model.backbone.state_dict())
  run = TorchRun(learning_rate=lr, metric=metric, best_metric=best_value, best_epoch=best_epoch,
                 history=history, seconds=round(time.perf_counter() - start, 3))
  return run, best_state


def evaluate(model: TorchClassifier, split: pipeline.SplitData, batch_size: int, rate: int,
             drop_background: bool = False) -> dict[str, float]:
  """Validation loss + accuracy (classification) or mAP (detection), eval mode, no grad."""
  model.eval()
  logits, labels = [], []
  with torch.no_grad():
    for batch in split.numpy_batches(batch_size=batch_size, sample_rate=rate,
                                     drop_background=drop_background):
      mask = np.asarray(batch["mask"], bool)
      if not mask.any():
        continue
      # The whole padded batch goes through the recipe (zero rows leave its maximum alone), as
      # in the JAX evaluator.
      out = model(model.backbone.prepare(batch["audio"], rate)).numpy()
      logits.append(out[mask])
      labels.append(np.asarray(batch["label"])[mask])
  if not logits:
    raise ValueError("The validation split gave no examples; cannot select the best epoch.")
  logits_np, labels_np = np.concatenate(logits), np.concatenate(labels)
  loss = float(_loss_fn(split.info.task)(torch.from_numpy(logits_np), torch.from_numpy(labels_np)))
  return metrics_lib.validation_metrics(logits_np, labels_np, split.info.task, loss)
