"""data/windows.py: window positions, the BEANS overlap > 0.2 rule, background, cluster labels."""

import numpy as np
import pytest

from bioacoustics_jax.data import windows


def test_window_starts_cover_the_recording():
  np.testing.assert_array_equal(windows.window_starts(60, 2, 1), np.arange(59))
  np.testing.assert_array_equal(windows.window_starts(60, 10, 5), np.arange(11) * 5)
  # 6.5 s with 2/1: BEANS stops at start 4 (ends 6.0); covering adds start 5 (ends 7.0).
  np.testing.assert_array_equal(windows.window_starts(6.5, 2, 1), np.arange(6))
  np.testing.assert_array_equal(windows.window_starts(6.5, 2, 1, rule="beans"), np.arange(5))
  np.testing.assert_array_equal(windows.window_starts(1.0, 2, 1), [0.0])  # short: one window
  with pytest.raises(ValueError):
    windows.window_starts(10, 0, 1)


def test_overlap_exactly_point_two_is_not_enough():
  # Window [0, 5], annotation [4, 10]: overlap 1 s / min(5, 6) s = 0.2 exactly.
  assert windows.overlap_fraction(0, 5, 4, 10) == pytest.approx(0.2)
  y = windows.window_labels([0.0], 5.0, [(4.0, 10.0, 0)], 1)
  assert y[0, 0] == 0.0
  y = windows.window_labels([0.0], 5.0, [(3.99, 10.0, 0)], 1)  # 1.01 / 5 > 0.2
  assert y[0, 0] == 1.0


def test_fraction_is_of_the_shorter_interval():
  # A 0.3 s call fully inside a 2 s window: fraction 1 (not 0.15).
  assert windows.overlap_fraction(0, 2, 0.5, 0.8) == pytest.approx(1.0)
  # A 10 s call covering a 2 s window: fraction 1.
  assert windows.overlap_fraction(2, 4, 0, 10) == pytest.approx(1.0)
  # Grazing by 0.1 s of a 1 s call: 0.1 / 1.
  assert windows.overlap_fraction(0, 2, 1.9, 2.9) == pytest.approx(0.1)
  assert windows.overlap_fraction(0, 2, 3, 4) == 0.0
  assert windows.overlap_fraction(0, 2, 1, 1) == 0.0  # zero-length annotation


def test_window_labels_multi_hot_and_background():
  starts = windows.window_starts(6, 2, 1)  # [0..4]
  anns = [(0.5, 1.0, 0), (1.5, 1.8, 2), (4.5, 4.9, 1)]
  y = windows.window_labels(starts, 2.0, anns, 3)
  expected = np.array([
      [1, 0, 1],  # [0, 2]: both calls
      [0, 0, 1],  # [1, 3]: call 0 touches only at 1.0 (overlap 0), call 2 inside
      [0, 0, 0],  # [2, 4]: background
      [0, 1, 0],  # [3, 5]
      [0, 1, 0],  # [4, 6]
  ], np.float32)
  np.testing.assert_array_equal(y, expected)
  np.testing.assert_array_equal(windows.is_background(y), [False, False, True, False, False])
  with pytest.raises(ValueError, match="outside"):
    windows.window_labels(starts, 2.0, [(0, 1, 3)], 3)


def test_cluster_labels():
  assert windows.cluster_labels(np.zeros(4)) == 0
  assert windows.cluster_labels(np.array([0, 0, 1, 0])) == 3
  assert windows.cluster_labels(np.array([0, 1, 1, 0])) == 2  # lowest present class wins
  batch = np.array([[0, 0], [1, 0], [0, 1]], np.float32)
  np.testing.assert_array_equal(windows.cluster_labels(batch), [0, 1, 2])
  with pytest.raises(ValueError):
    windows.cluster_labels(np.zeros((2, 2, 2)))
