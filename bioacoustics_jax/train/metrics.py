"""Validation metrics: accuracy (classification) and mAP (detection), on host numpy arrays.

mAP is the macro average of per-class average precision over the classes that have at least
one positive example (a class absent from the split has undefined AP and is skipped, as in
BEANS). AP is the step-wise area under the precision-recall curve, the same definition as
sklearn's `average_precision_score` (tests check the two agree).
"""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
  """Top-1 accuracy of logits [N, C] against int labels [N]."""
  logits, labels = np.asarray(logits), np.asarray(labels)
  if len(labels) == 0:
    raise ValueError("accuracy() of an empty set; the validation split has no examples.")
  return float(np.mean(np.argmax(logits, axis=-1) == labels))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
  """AP of one class: mean over positives of the precision at their rank (ties grouped)."""
  scores = np.asarray(scores, np.float64)
  positives = np.asarray(positives) > 0
  num_pos = positives.sum()
  if num_pos == 0:
    return float("nan")
  order = np.argsort(-scores, kind="stable")
  scores, positives = scores[order], positives[order]
  # Tied scores form one threshold: precision/recall are measured at the end of each tie group.
  last_of_group = np.r_[np.diff(scores) != 0, True]
  tp = np.cumsum(positives)[last_of_group]
  seen = np.flatnonzero(last_of_group) + 1
  precision = tp / seen
  recall_gain = np.diff(np.r_[0, tp]) / num_pos
  return float(np.sum(precision * recall_gain))


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
  """Macro mAP over classes present in `targets` (multi-hot [N, C]); scores [N, C]."""
  scores, targets = np.asarray(scores), np.asarray(targets)
  if scores.shape != targets.shape or scores.ndim != 2:
    raise ValueError(f"mAP needs scores and multi-hot targets of the same [N, C] shape, got "
                     f"{scores.shape} and {targets.shape}.")
  present = np.flatnonzero(targets.sum(axis=0) > 0)
  if present.size == 0:
    raise ValueError("mAP is undefined: no class has a positive example in this split (all "
                     "background?). Use a split with labelled windows.")
  return float(np.mean([average_precision(scores[:, c], targets[:, c]) for c in present]))


def validation_metrics(logits: np.ndarray, labels: np.ndarray, task: str,
                       mean_loss: float) -> dict[str, float]:
  """All metrics for one validation pass; 'accuracy' for classification, 'map' for detection."""
  out = {"loss": float(mean_loss)}
  if task == "classification":
    out["accuracy"] = accuracy(logits, labels)
  else:
    out["map"] = mean_average_precision(logits, labels)
  return out


SELECT_METRICS = ("auto", "accuracy", "map", "loss")  # train.select_metric


def select_key(select_metric: str, task: str) -> tuple[str, str]:
  """(metric name, "max"|"min") used to pick the best epoch / learning rate."""
  if select_metric == "auto":
    return ("accuracy" if task == "classification" else "map"), "max"
  if select_metric == "loss":
    return "loss", "min"
  valid = {"classification": ("accuracy",), "detection": ("map",)}[task]
  if select_metric not in valid:
    raise ValueError(f"select_metric={select_metric!r} is not available for {task}; use 'auto', "
                     f"'loss' or {valid}.")
  return select_metric, "max"
