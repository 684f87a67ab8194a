"""Scores of a classifier's test predictions: accuracy, macro-F1, mAP (weighted, for intervals).

Each takes optional multiplicity weights so `intervals.bootstrap` can recompute it on a resample
in O(N) (confusion counts by bincount; AP from one descending sort per class, reused by every
resample). With unit weights they equal sklearn's accuracy_score, f1_score(average="macro") and
average_precision_score (macro over classes with a positive; the tests check). Macro-F1 averages
over the classes present in the true or predicted labels, as sklearn does.
"""

from __future__ import annotations

import math

import numpy as np


def accuracy(y: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None) -> float:
  w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
  return float(np.dot(w, np.asarray(y) == np.asarray(predicted)) / w.sum())


def macro_f1(y: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None) -> float:
  """Single-label macro-F1 over classes present in y or predicted (sklearn's labels=None)."""
  y, predicted = np.asarray(y), np.asarray(predicted)
  w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
  keep = w > 0
  y, predicted, w = y[keep], predicted[keep], w[keep]
  classes, index = np.unique(np.concatenate([y, predicted]), return_inverse=True)
  yi, pi = index[:len(y)], index[len(y):]
  c = len(classes)
  tp = np.bincount(yi[yi == pi], weights=w[yi == pi], minlength=c)
  true = np.bincount(yi, weights=w, minlength=c)
  pred = np.bincount(pi, weights=w, minlength=c)
  denom = true + pred
  return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-300), 0.0)))


def multilabel_macro_f1(targets: np.ndarray, predicted: np.ndarray,
                        weights: np.ndarray | None = None) -> float:
  """Macro-F1 over columns of 0/1 [N, C] targets and predictions (sklearn, zero_division=0)."""
  t, p = np.asarray(targets, bool), np.asarray(predicted, bool)
  w = np.ones(len(t)) if weights is None else np.asarray(weights, np.float64)
  tp = w @ (t & p)
  denom = w @ t + w @ p
  return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-300), 0.0)))


class AveragePrecision:
  """Macro mAP of scores [N, C] against 0/1 targets [N, C], re-weightable for the bootstrap.

  The descending sort and the tie groups of each class are computed once; `__call__(weights)`
  then costs O(N C). Classes with no positive in the (weighted) set are left out of the mean, as
  are all classes that sklearn's average_precision_score would warn about.
  """

  def __init__(self, targets: np.ndarray, scores: np.ndarray):
    targets = np.asarray(targets, bool)
    scores = np.asarray(scores, np.float64)
    self.classes = []
    for c in range(targets.shape[1]):
      order = np.argsort(-scores[:, c], kind="stable")
      s = scores[order, c]
      # The last index of each run of equal scores: precision is taken at thresholds only.
      last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
      self.classes.append((order, targets[order, c], last))

  def __call__(self, weights: np.ndarray | None = None) -> float:
    aps = []
    for order, positive, last in self.classes:
      w = np.ones(len(order)) if weights is None else np.asarray(weights, np.float64)[order]
      tp = np.cumsum(w * positive)[last]
      fp = np.cumsum(w * ~positive)[last]
      if tp[-1] <= 0:
        continue
      precision = tp / np.maximum(tp + fp, 1e-300)
      recall_step = np.diff(np.r_[0.0, tp]) / tp[-1]
      aps.append(float(np.sum(recall_step * precision)))
    return float(np.mean(aps)) if aps else math.nan
