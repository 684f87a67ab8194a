"""Labels from a csv or a Raven table beside a recording, by the detection overlap rule."""

import numpy as np
import pytest

from bioacoustics_jax.data import annotations
from bioacoustics_jax.soundscape import labels


def test_csv_first_then_raven_and_the_overlap_rule(tmp_path):
  (tmp_path / "a.wav").write_bytes(b"")
  assert labels.table_for(str(tmp_path / "a.wav")) is None
  assert labels.window_labels(None, np.array([0.0, 1.0]), 1.0) == ["", ""]
  raven = tmp_path / "a.Table.1.selections.txt"
  raven.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tSpecies\n"
                   "1\tSpectrogram 1\t1\t0.1\t0.5\towl\n"
                   "2\tSpectrogram 1\t1\t1.9\t2.05\tfrog\n"  # 0.05 s of 0.15 s in window 2
                   "3\tSpectrogram 1\t1\t2.1\t2.6\t owl \n")
  assert labels.table_for(str(tmp_path / "a.wav")) == str(raven)
  got = labels.window_labels(str(raven), np.array([0.0, 1.0, 2.0, 3.0]), 1.0)
  # window 1: frog overlaps by 0.1/0.15 > 0.2; window 2: frog 0.05/0.15 > 0.2 and owl
  assert got == ["owl", "frog", "frog+owl", ""]
  (tmp_path / "a.csv").write_text("start;end;label\n3.2;3.9;Bat\n")
  assert labels.table_for(str(tmp_path / "a.wav")) == str(tmp_path / "a.csv")
  assert labels.window_labels(str(tmp_path / "a.csv"), np.array([2.5, 3.0]), 1.0) == \
      ["Bat", "Bat"]
  (tmp_path / "a.csv").write_text("start,end,label\nsoon,3.9,Bat\n")
  with pytest.raises(annotations.TableError, match="a.csv:2"):
    labels.read(str(tmp_path / "a.csv"))
