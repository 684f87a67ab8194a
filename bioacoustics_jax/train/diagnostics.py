"""Eval-mode vs train-mode accuracy of a fine-tuned classifier on its own training clips.

Called by train/finetune.py on the selected checkpoint; the two numbers go to sweep.json and
the report. Eval mode (BatchNorm running statistics) is what validation, best-epoch selection
and the fine-tuned embeddings use; train mode normalises every batch by its own statistics.
A network that fits its training set in train mode but predicts one class in eval mode (the
collapse of torch-style running averages after a handful of steps) shows as a large gap here,
at a glance, instead of as "fine-tuning hurts" downstream.

Runs on one device with the plain backbone module (no cross-replica axis): the batches are
this process's padded, masked training batches in a fixed order. In train mode padded rows are
kept out of BatchNorm (torch_compatible_layers.batch_norm_context) and dropout uses a fixed key.
"""

from __future__ import annotations

from typing import Callable, Iterable

import flax.linen as nn
import jax
import numpy as np

from bioacoustics_jax.models import torch_compatible_layers


def mode_accuracies(module: nn.Module, variables: dict, prepare: Callable, sample_rate: int,
                    batches: Iterable[dict]) -> dict[str, float]:
  """{"eval_mode": acc, "train_mode": acc} of a Classifier over `batches` (classification)."""

  def predict(variables, audio, mask, train):
    x = prepare(audio, sample_rate)
    if not train:
      return module.apply(variables, x, train=False)[0].argmax(-1)
    with torch_compatible_layers.batch_norm_context(mask=mask):
      (logits, _), _ = module.apply(variables, x, train=True, mutable=["batch_stats"],
                                    rngs={"dropout": jax.random.key(0)})
    return logits.argmax(-1)

  fns = {mode: jax.jit(lambda v, a, m, t=(mode == "train_mode"): predict(v, a, m, t))
         for mode in ("eval_mode", "train_mode")}
  hits = {mode: 0 for mode in fns}
  total = 0
  for batch in batches:
    keep = np.asarray(batch["mask"], bool)
    for mode, fn in fns.items():
      pred = np.asarray(fn(variables, batch["audio"], batch["mask"]))
      hits[mode] += int(np.sum(pred[keep] == np.asarray(batch["label"])[keep]))
    total += int(keep.sum())
  if total == 0:
    raise ValueError("mode_accuracies: no real rows in the batches.")
  return {mode: hits[mode] / total for mode in fns}
