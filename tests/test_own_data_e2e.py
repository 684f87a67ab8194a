"""End to end: experiments/configs/own_data.py on each layout a user brings, through launch.run's
core (run_experiment), with the data's origin and input checks in report.md."""

import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from bioacoustics_jax import experiment
from experiments.configs import own_data
from tests.data import helpers_audio as h

SR = 8000


def _wav(path, freq, seconds=0.5, seed=0, sr=SR):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sf.write(path, h.tone(sr, seconds, freq=freq, seed=seed), sr, subtype="PCM_16")


def _label_folder(root, n=4, seed=0):
  for label, freq in (("great_tit", 600.0), ("blue_tit", 2400.0)):
    for i in range(n):
      _wav(os.path.join(root, label, f"{label}_{i}.wav"), freq, seed=seed + i)
  return root


def _split_folder(root):
  for k, split in enumerate(("train", "valid", "test")):  # no file in two splits
    _label_folder(os.path.join(root, split), n=2, seed=10 * k)
  return root


def _excel_csv(root):
  _label_folder(os.path.join(root, "audio"), n=3)
  rows = ["path,label"] + [f"audio/{lbl}/{lbl}_{i}.wav,{lbl}" for lbl in ("great_tit", "blue_tit")
                           for i in range(3)]
  with open(os.path.join(root, "labels.csv"), "w", encoding="utf-8-sig", newline="") as f:
    f.write("\r\n".join(rows) + "\r\n")  # Excel's "CSV UTF-8": BOM and CRLF
  return os.path.join(root, "labels.csv")


def _recording(path, calls, seconds=6.0):
  """A 6 s recording with tones at the given (start, end, freq)."""
  x = np.random.default_rng(0).normal(0, 0.01, int(seconds * SR)).astype(np.float32)
  for st, ed, freq in calls:
    t = np.arange(int(st * SR), int(ed * SR))
    x[t] += 0.3 * np.sin(2 * np.pi * freq * t / SR)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sf.write(path, x, SR, subtype="PCM_16")


CALLS = [(0.5, 1.5, 600.0, "GRTI"), (3.2, 4.0, 2400.0, "BLTI")]


def _jsonl_folder(root):
  for split in ("train", "valid", "test"):
    _recording(os.path.join(root, f"{split}.wav"), [c[:3] for c in CALLS])
    with open(os.path.join(root, f"{split}.jsonl"), "w") as f:
      f.write(json.dumps({"path": f"{split}.wav", "length": 6.0, "annotations": [
          {"st": st, "ed": ed, "label": lbl} for st, ed, _, lbl in CALLS]}) + "\n")
  return root


def _raven_folder(root):
  for rec in ("site1_0600", "site1_0700", "site2_0600"):
    _recording(os.path.join(root, f"{rec}.wav"), [c[:3] for c in CALLS])
    with open(os.path.join(root, f"{rec}.Table.1.selections.txt"), "w") as f:
      f.write("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tSpecies\n")
      for i, (st, ed, _, lbl) in enumerate(CALLS, 1):
        f.write(f"{i}\tSpectrogram 1\t1\t{st}\t{ed}\t{lbl}\n")
  return root


LAYOUTS = {"label_folder": _label_folder, "split_folder": _split_folder,
           "excel_csv": _excel_csv, "jsonl_folder": _jsonl_folder, "raven_folder": _raven_folder}


def _run(tmp_path, layout, arg="", **kwargs):
  root = LAYOUTS[layout](str(tmp_path / "data" / layout), **kwargs)
  workdir = str(tmp_path / "work")
  config = own_data.get_config(f"root={root},smoke=true" + arg)
  results_csv = experiment.run_experiment(config, workdir)
  with open(results_csv, newline="") as f:
    rows = list(csv.DictReader(f))
  with open(os.path.join(workdir, "report.md")) as f:
    report = f.read()
  return root, workdir, rows, report


# About a minute each on 2 shared cores: the label folder runs by default, the rest with -m slow.
@pytest.mark.parametrize("layout", [pytest.param(k, marks=[] if k == "label_folder" else
                                                 [pytest.mark.slow]) for k in sorted(LAYOUTS)])
def test_one_command_on_each_layout(tmp_path, layout):
  root, workdir, rows, report = _run(tmp_path, layout)
  name = os.path.basename(root)
  assert rows and {r["dataset"] for r in rows} == {name}
  assert all(int(r["n"]) > 0 and r["split"] == "all" for r in rows)
  assert "## Data" in report and f"**{name}**:" in report and f"{SR} Hz" in report
  assert not [p for p in os.listdir(os.path.dirname(root)) if p.startswith("_")]  # nothing added
  assert os.path.isdir(os.path.join(workdir, "cache", "tfds"))


def test_warnings_reach_report_and_data_is_not_altered(tmp_path):
  root = _label_folder(str(tmp_path / "data" / "birds"))
  os.rename(os.path.join(root, "blue_tit", "blue_tit_0.wav"),
            os.path.join(root, "blue_tit", "blue_tit_0 .wav"))
  os.makedirs(os.path.join(root, "blue_tit "))  # a second spelling of the label
  _wav(os.path.join(root, "blue_tit ", "x.wav"), 2400.0, seconds=2.0)
  with open(os.path.join(root, "blue_tit", "notes.txt"), "w") as f:
    f.write("recorded at dawn")
  config = own_data.get_config(f"root={root},smoke=true")
  experiment.run_experiment(config, str(tmp_path / "work"))
  report = open(tmp_path / "work" / "report.md").read()
  assert "label spellings 'blue_tit' x4, 'blue_tit ' x1 were merged into class 'blue_tit'" in report
  assert "1 files are longer than the 0.5 s clip; only their first 0.5 s was used (25%" in report
  assert f"{root}: 1 files not used: 1 other extensions [.txt x1]: blue_tit/notes.txt" in report
  with open(tmp_path / "work" / "results.csv", newline="") as f:
    assert {r["n_classes"] for r in csv.DictReader(f)} == {"2"}


@pytest.mark.slow
def test_finetuning_uses_a_split_by_recording(tmp_path):
  # 10 recordings per class: 6 train, 2 valid, 2 test each.
  _, workdir, rows, report = _run(tmp_path, "label_folder", ",regimes=frozen+finetuned", n=10)
  assert {r["regime"] for r in rows} == {"frozen", "finetuned"}
  assert {r["split"] for r in rows} == {"test"}
  split_csv = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(workdir, "cache"))
               for f in fs if f == "split.csv"]
  assert len(split_csv) == 1 and "made per recording" in report


@pytest.mark.slow
def test_command_line_fix_in_config_arg_syntax(tmp_path):
  """launch.run spells fixes for its own command line (option_syntax): a label folder of .m4a
  files stops the run with `:empty_labels=drop` (a key of own_data.py's :arg), not Python's."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = _label_folder(str(tmp_path / "data" / "birds"), n=2)
  os.makedirs(os.path.join(root, "Wren"))
  with open(os.path.join(root, "Wren", "w.m4a"), "wb") as f:
    f.write(b"\0\0\0 ftypM4A ")
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  done = subprocess.run(
      [sys.executable, "-m", "launch.run",
       f"--config=experiments/configs/own_data.py:root={root},smoke=true",
       f"--workdir={tmp_path / 'work'}"], cwd=repo, capture_output=True, text=True, timeout=600,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert done.returncode != 0
  last = done.stderr.strip().splitlines()[-1]
  assert last.startswith(f"ValueError: {root}: 1 label folder(s) with no usable audio file "
                         "('Wren': 1 audio in a format"), last
  assert last.endswith("or set `:empty_labels=drop` in --config to leave the label out"), last


@pytest.mark.slow
@pytest.mark.parametrize("per_class", [3, 5, 10])
def test_small_folders_run_frozen_and_finetuned_with_umap_to_the_end(tmp_path, per_class):
  # 3 files per class once gave a 2-clip test split on which UMAP's spectral init crashed
  # ("Cannot use scipy.linalg.eigh for sparse A with k >= N") and no results.csv was written.
  root = _label_folder(str(tmp_path / "data" / "birds"), n=per_class)
  config = own_data.get_config(f"root={root},smoke=true,regimes=frozen+finetuned")
  config.evaluate.reducers = ("umap", "pca")
  results_csv = experiment.run_experiment(config, str(tmp_path / "work"))
  with open(results_csv, newline="") as f:
    rows = list(csv.DictReader(f))
  assert {(r["regime"], r["reducer"]) for r in rows} == {
      (g, r) for g in ("frozen", "finetuned") for r in ("umap", "pca")}
  assert all(r["status"] in ("ok", "small", "degenerate") for r in rows)
  umap = [r for r in rows if r["reducer"] == "umap" and r["status"] != "degenerate"]
  assert all("umap n_neighbors 50 ->" in r["note"] for r in umap)
