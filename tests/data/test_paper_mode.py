"""The paper-mode data switches against BEANS' own rules (earthspecies/beans RecognitionDataset,
datasets.yml), on constructed recordings: window counts, the overlap rule at exactly 0.2, the
fixed class lists (rfcx in numeric order), and that each switch reaches the cell key."""

import json

import numpy as np
import pytest

from bioacoustics_jax.cells import cell as cell_lib
from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import beans_classes
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import windows
from tests.data import helpers_audio as h

PAPER = dict(class_order="beans", window_rule="beans", overlap_tolerance=0.0)


def _beans_windows(length, w, shift):
  """BEANS: `num_windows = int((length - w) / shift) + 1`, starts window_id * shift."""
  return [i * shift for i in range(int((length - w) / shift) + 1)]


def _beans_label(st, ed, anns, num_labels):
  """BEANS' labelling loop for one window (its two conditions, raw float compare)."""
  y = np.zeros(num_labels, np.float32)
  for a_st, a_ed, c in anns:
    if (st <= a_st <= ed) or (st <= a_ed <= ed):
      denom = min(ed - st, a_ed - a_st)
      if denom == 0:
        continue
      if (min(ed, a_ed) - max(st, a_st)) / denom > .2:
        y[c] = 1
    if a_st <= st and ed <= a_ed:
      y[c] = 1
  return y


@pytest.mark.parametrize("w,shift", [(2, 1), (4, 2), (10, 5)])
def test_beans_window_count_matches_beans_formula(w, shift):
  lengths = [60, 59.5, 58.99999999, 6.5, w + 0.3, w, w - 0.5 * shift, w - shift + 0.01,
             w - shift, w - shift - 0.01, 0.5, 0.0]
  for length in lengths:
    ours = windows.window_starts(length, w, shift, rule="beans")
    np.testing.assert_array_equal(ours, _beans_windows(length, w, shift), err_msg=str(length))
  # At or below w - shift BEANS gives no window; just above it, one (zero-padded) window.
  assert len(windows.window_starts(w - shift, w, shift, rule="beans")) == 0
  assert len(windows.window_starts(w - shift + 0.01, w, shift, rule="beans")) == 1
  # cover_tail differs exactly where (length - w) / shift is not an integer, or length < w.
  assert len(windows.window_starts(6.5, 2, 1)) == len(_beans_windows(6.5, 2, 1)) + 1
  assert len(windows.window_starts(0.5, w, shift)) == 1
  with pytest.raises(ValueError, match="window_rule"):
    windows.window_starts(10, 2, 1, rule="bean")


def test_overlap_at_exactly_point_two_float_noise():
  # Window [0, 2], call [1.9, 2.4]: 0.1 s of a 0.5 s call = 0.2, computed 0.20000000000000018.
  assert 0.2 < windows.overlap_fraction(0, 2, 1.9, 2.4) < 0.2 + 1e-12
  anns = [(1.9, 2.4, 0)]
  assert windows.window_labels([0.0], 2.0, anns, 1)[0, 0] == 0.0  # default: noise absorbed
  assert windows.window_labels([0.0], 2.0, anns, 1, tolerance=0.0)[0, 0] == 1.0  # BEANS
  # Exactly 0.2 in floats (1 s of a 5 s window) labels nothing under either rule.
  assert windows.window_labels([0.0], 5.0, [(4.0, 10.0, 0)], 1, tolerance=0.0)[0, 0] == 0.0


def test_tolerance_zero_equals_beans_loop_on_a_grid_of_calls():
  rng = np.random.default_rng(0)
  for w, shift in ((2, 1), (10, 5), (4, 2)):
    starts = windows.window_starts(30, w, shift, rule="beans")
    st = rng.integers(0, 300, 200) / 10  # 0.1 s grid: many fractions of exactly 0.2 +- noise
    anns = [(a, a + d, int(c)) for a, d, c in
            zip(st, rng.integers(0, 80, 200) / 10, rng.integers(0, 3, 200))]
    ours = windows.window_labels(starts, w, anns, 3, tolerance=0.0)
    theirs = np.stack([_beans_label(s, s + w, anns, 3) for s in starts])
    np.testing.assert_array_equal(ours, theirs)


def test_beans_class_lists_match_the_roster():
  for name, spec in catalog.BEANS_ROSTER.items():
    assert len(beans_classes.BEANS_CLASSES[name]) == spec["classes"], name
  assert beans_classes.BEANS_CLASSES["rfcx"] == tuple(str(i) for i in range(24))
  assert beans_classes.BEANS_CLASSES["enabirds"] == tuple(catalog.BEANS_ROSTER["enabirds"]["labels"])


def _rfcx(root):
  """An rfcx folder in BEANS' layout: 48 kHz is slow to write, so 30 s recordings at 48 kHz are
  replaced by short ones; BEANS windows by the jsonl length, as we do."""
  data = root / "data"
  (data / "rfcx").mkdir(parents=True)
  recs = [
      # 20 s: windows 0, 5, 10; the first holds species 10 and 2 (multi-species).
      {"path": "rfcx/r0.wav", "length": 20.0, "annotations": [
          {"st": 1.0, "ed": 3.0, "label": 10}, {"st": 2.0, "ed": 4.0, "label": 2}]},
      # 17.5 s: BEANS int(1.5) + 1 = 2 windows; cover_tail adds a padded third.
      {"path": "rfcx/r1.wav", "length": 17.5, "annotations": [
          {"st": 12.0, "ed": 14.0, "label": 10}]},
      # 4 s < w - shift = 5: BEANS gives no window; cover_tail one.
      {"path": "rfcx/r2.wav", "length": 4.0, "annotations": []},
  ]
  for rec in recs:
    audio_io.write_wav(str(data / rec["path"]), h.tone(480, rec["length"]), 48000)
  for split in ("train", "valid", "test"):
    (data / "rfcx" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
  return str(data)


def test_rfcx_paper_mode_through_the_builder(tmp_path):
  root = _rfcx(tmp_path)
  default = pipeline.open_split("rfcx", "test", data_root=root, cache_dir=str(tmp_path / "c"))
  paper = pipeline.open_split("rfcx", "test", data_root=root, cache_dir=str(tmp_path / "c"),
                              **PAPER)
  # Class order: sorted strings of the labels found vs BEANS' 0..23.
  assert default.info.class_names == ("10", "2")
  assert paper.info.class_names == tuple(str(i) for i in range(24))
  # Window counts: 3 + 3 + 1 vs BEANS' 3 + 2 + 0.
  assert default.num_examples == 7 and paper.num_examples == 5
  # The multi-species first window: the cluster label (argmax + 1) names species 2 in BEANS'
  # order and species 10 under the sorted order (the difference the paper mode removes).
  first_default = windows.cluster_labels(default.labels[0])
  first_paper = windows.cluster_labels(paper.labels[0])
  assert default.info.class_names[first_default - 1] == "10"
  assert paper.info.class_names[first_paper - 1] == "2"
  # Every label of the paper split equals BEANS' loop over BEANS' windows.
  anns = {0: [(1.0, 3.0, 10), (2.0, 4.0, 2)], 1: [(12.0, 14.0, 10)], 2: []}
  lengths = {0: 20.0, 1: 17.5, 2: 4.0}
  expected = [_beans_label(s, s + 10, anns[r], 24) for r in range(3)
              for s in _beans_windows(lengths[r], 10, 5)]
  np.testing.assert_array_equal(paper.labels, np.stack(expected))
  # Each switch is in the split's identity, hence in the cell key.
  ids = [cell_lib._split_identity(s, False) for s in (default, paper)]  # pylint: disable=protected-access
  assert ids[0]["options"]["window_rule"] == "cover_tail"
  assert ids[1]["options"]["window_rule"] == "beans"
  assert ids[1]["options"]["overlap_tolerance"] == 0.0
  assert ids[0]["class_names"] != ids[1]["class_names"]
  assert default.builder.builder_config.name != paper.builder.builder_config.name


def test_bad_switch_values_name_the_key(tmp_path):
  root = _rfcx(tmp_path)
  with pytest.raises(ValueError, match="data.class_order"):
    pipeline.open_split("rfcx", "test", data_root=root, cache_dir=str(tmp_path / "c"),
                        class_order="numeric")
  with pytest.raises(ValueError, match="data.window_rule"):
    pipeline.open_split("rfcx", "test", data_root=root, cache_dir=str(tmp_path / "c"),
                        window_rule="drop")
