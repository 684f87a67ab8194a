"""Probe metrics against sklearn, and their weighted form against explicit resampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from bioacoustics_jax.evaluate import probe_metrics


def _single_label(n=300, classes=5, seed=0):
  rng = np.random.default_rng(seed)
  y = rng.integers(0, classes, n)
  predicted = np.where(rng.random(n) < 0.6, y, rng.integers(0, classes + 1, n))  # an extra class
  return y, predicted


def _multilabel(n=300, classes=4, seed=0):
  rng = np.random.default_rng(seed)
  targets = (rng.random((n, classes)) < 0.3).astype(np.float32)
  scores = targets * 1.0 + rng.standard_normal((n, classes))
  scores[:50] = np.round(scores[:50])  # ties: precision is taken at thresholds, as sklearn does
  return targets, scores


def test_single_label_metrics_equal_sklearn():
  y, predicted = _single_label()
  assert probe_metrics.accuracy(y, predicted) == pytest.approx(skm.accuracy_score(y, predicted))
  assert probe_metrics.macro_f1(y, predicted) == pytest.approx(
      skm.f1_score(y, predicted, average="macro"))


def test_multilabel_metrics_equal_sklearn():
  targets, scores = _multilabel()
  assert probe_metrics.AveragePrecision(targets, scores)() == pytest.approx(
      skm.average_precision_score(targets, scores, average="macro"))
  predicted = scores > 0.5
  assert probe_metrics.multilabel_macro_f1(targets, predicted) == pytest.approx(
      skm.f1_score(targets, predicted, average="macro", zero_division=0))


def test_a_class_without_positives_is_left_out_of_the_map():
  targets, scores = _multilabel()
  targets[:, 2] = 0
  kept = [0, 1, 3]
  assert probe_metrics.AveragePrecision(targets, scores)() == pytest.approx(
      skm.average_precision_score(targets[:, kept], scores[:, kept], average="macro"))
  assert math.isnan(probe_metrics.AveragePrecision(np.zeros((5, 2)), np.ones((5, 2)))())


def test_weights_equal_explicit_resampling():
  # What the bootstrap relies on: a statistic with multiplicity weights == on the repeated rows.
  rng = np.random.default_rng(1)
  y, predicted = _single_label()
  targets, scores = _multilabel()
  weights = np.bincount(rng.integers(0, 300, 300), minlength=300)
  rows = np.repeat(np.arange(300), weights)
  assert probe_metrics.accuracy(y, predicted, weights) == pytest.approx(
      skm.accuracy_score(y[rows], predicted[rows]))
  assert probe_metrics.macro_f1(y, predicted, weights) == pytest.approx(
      skm.f1_score(y[rows], predicted[rows], average="macro"))
  assert probe_metrics.AveragePrecision(targets, scores)(weights) == pytest.approx(
      skm.average_precision_score(targets[rows], scores[rows], average="macro"))
  assert probe_metrics.multilabel_macro_f1(targets, scores > 0.5, weights) == pytest.approx(
      skm.f1_score(targets[rows], scores[rows] > 0.5, average="macro", zero_division=0))
