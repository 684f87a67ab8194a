"""data/synthetic.py: deterministic, BEANS-format, idempotent."""

import csv
import filecmp
import json
import os

import pytest
import soundfile as sf

from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import synthetic

_SMALL = synthetic.SuiteSize(clips_per_class=(2, 1, 1), recordings=(1, 1, 1),
                             recording_seconds=4.0, clip_scale=0.25)


def _files(root):
  out = []
  for d, _, fs in os.walk(root):
    out += [os.path.relpath(os.path.join(d, f), root) for f in fs]
  return sorted(out)


def test_same_seed_identical_bytes_other_seed_differs(tmp_path):
  a, b, c = (str(tmp_path / n) for n in "abc")
  synthetic.write_suite(a, size=_SMALL, seed=1)
  synthetic.write_suite(b, size=_SMALL, seed=1)
  synthetic.write_suite(c, size=_SMALL, seed=2)
  files = _files(a)
  assert files == _files(b) == _files(c) and len(files) > 20
  assert all(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False) for f in files)
  wavs = [f for f in files if f.endswith(".wav")]
  assert all(not filecmp.cmp(os.path.join(a, f), os.path.join(c, f), shallow=False)
             for f in wavs)


def test_beans_format(tiny_root):
  for name, spec in synthetic.ROSTER.items():
    folder = os.path.join(tiny_root, name)
    with open(os.path.join(folder, catalog.DATASET_JSON)) as f:
      meta = json.load(f)
    assert meta["name"] == name and meta["sample_rate"] == spec.sample_rate
    assert meta["class_names"] == [s.name for s in spec.species]
    for split in catalog.SPLITS:
      paths = []
      if spec.task == "classification":
        with open(os.path.join(folder, f"annotations.{split}.csv")) as f:
          rows = list(csv.DictReader(f))
        assert rows and list(rows[0]) == ["path", "label"]
        assert {r["label"] for r in rows} == set(meta["class_names"])
        paths = [r["path"] for r in rows]
      else:
        with open(os.path.join(folder, f"{split}.jsonl")) as f:
          recs = [json.loads(line) for line in f]
        assert recs and all(set(r) == {"path", "length", "annotations"} for r in recs)
        for r in recs:
          for a in r["annotations"]:
            assert set(a) == {"st", "ed", "label"} and 0 <= a["st"] < a["ed"] <= r["length"]
            assert a["label"] in meta["class_names"]
        paths = [r["path"] for r in recs]
      assert len(paths) == meta["counts"][split]
      for p in paths:
        info = sf.info(os.path.join(folder, p))
        assert (info.samplerate, info.channels, info.subtype) == (spec.sample_rate, 1, "PCM_16")
        if spec.task == "classification":
          assert info.frames == round(meta["clip_seconds"] * spec.sample_rate)
  assert synthetic.ROSTER["synth_bats"].sample_rate == 192000


def test_catalog_reads_dataset_json(tiny_root):
  info = catalog.dataset_info("synth_frogs_detection", tiny_root)
  assert (info.task, info.sample_rate, info.clip_seconds, info.shift_seconds) == (
      "detection", 16000, 2.0, 1.0)
  assert info.num_classes == 3
  assert catalog.dataset_info("synth_birds", tiny_root).shift_seconds is None


def test_idempotent_and_regenerates_on_change(tmp_path):
  root = str(tmp_path)
  assert synthetic.write_suite(root, size=_SMALL, names=["synth_birds"]) == ["synth_birds"]
  probe = os.path.join(root, "synth_birds", "annotations.train.csv")
  stamp = os.stat(probe).st_mtime_ns
  os.utime(probe, ns=(stamp - 10**9, stamp - 10**9))
  synthetic.write_suite(root, size=_SMALL, names=["synth_birds"])
  assert os.stat(probe).st_mtime_ns == stamp - 10**9  # untouched: same fingerprint
  synthetic.write_suite(root, size=_SMALL, seed=5, names=["synth_birds"])
  assert os.stat(probe).st_mtime_ns != stamp - 10**9  # another seed: rewritten
  assert not [d for d in os.listdir(root) if ".tmp" in d]


def test_refuses_foreign_folder_and_bad_arguments(tmp_path):
  foreign = tmp_path / "synth_birds"
  foreign.mkdir()
  (foreign / "mine.txt").write_text("user data")
  with pytest.raises(FileExistsError, match="refusing"):
    synthetic.write_suite(str(tmp_path), size=_SMALL, names=["synth_birds"])
  with pytest.raises(ValueError, match="unknown size"):
    synthetic.write_suite(str(tmp_path), size="huge")
  with pytest.raises(ValueError, match="unknown synthetic"):
    synthetic.write_suite(str(tmp_path), names=["synth_whales"])
