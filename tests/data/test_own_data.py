"""Own recordings as a new user brings them: every accepted layout and every bad input.

Each case writes a tiny dataset (generated tones, 8 kHz, 0.5 s) in its own folder, opens it the
way the experiment does (pipeline.open_split with a cache dir outside the data) and asserts the
exact outcome: the examples and labels, the warning (its text, the files it names) and that the
data is what the file holds, or the error (it names the file and carries a fix).
"""

from __future__ import annotations

import json
import os
import stat
import shutil
import unicodedata

import numpy as np
import pytest
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import labels
from bioacoustics_jax.data import own_data
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import rules
from tests.data import helpers_audio as h

SR = 8000
CLIP = 0.5


def _wav(path, x=None, sr=SR, subtype="PCM_16", seconds=CLIP, seed=0, fmt=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  x = h.tone(sr, seconds, seed=seed) if x is None else x
  sf.write(path, x, sr, subtype=subtype, format=fmt)
  return x


def _label_folder(root, labels=("a", "b"), n=3, seed=0, **kwargs):
  for k, label in enumerate(labels):  # every file its own noise: no two files the same
    for i in range(n):
      _wav(os.path.join(root, label, f"{label}{i}.wav"), seed=seed + 100 * k + i, **kwargs)
  return root


def _open(root, split="all", **kwargs):
  root = str(root)
  kwargs.setdefault("cache_dir", os.path.join(os.path.dirname(root), "cache"))
  return pipeline.open_split(os.path.basename(root), split, data_root=os.path.dirname(root),
                             **kwargs)


def _examples(s):
  return list(s.builder.as_dataset(split=s.split, shuffle_files=False).as_numpy_iterator())


def _audio_of(s, name):
  """The stored float audio of the example whose id ends with `name`."""
  ex = next(e for e in _examples(s) if e["id"].decode().endswith(name))
  return ex["audio"].astype(np.float32) / 32768.0


def _warnings_except_thin_splits(s):
  """The warnings besides "split_small" (every tiny folder here has thin test/valid splits)."""
  return [w for w in s.warnings if w["kind"] != "split_small"]


def _warning(s, kind):
  found = [w for w in s.warnings if w["kind"] == kind]
  assert len(found) == 1, s.warnings
  return found[0]


# ---- layouts that must work ----------------------------------------------------------------


def _write_csv(path, rows, delimiter=",", bom=False):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  text = "\n".join(delimiter.join(r) for r in rows) + "\n"
  with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
    f.write(text)


def case_label_folder_nested(d):
  _label_folder(d / "birds")
  _wav(str(d / "birds" / "a" / "deeper" / "x.wav"), seed=7)  # recursive
  s = _open(d / "birds")
  assert s.num_examples == 7 and s.info.class_names == ("a", "b")
  assert _warnings_except_thin_splits(s) == []
  assert s.info.sample_rate == SR and s.info.clip_seconds == CLIP
  assert "label folders" in s.origin and "8000 Hz" in s.origin


def case_split_folders(d):
  for k, (split, n) in enumerate((("train", 3), ("valid", 1), ("test", 2))):
    _label_folder(d / "ds" / split, n=n, seed=1000 * k)
  assert _open(d / "ds", "train").num_examples == 6
  assert _open(d / "ds", "test").num_examples == 4
  assert _open(d / "ds").num_examples == 12
  assert "splits: given" in _open(d / "ds").origin


def case_own_folder_named_like_a_beans_dataset(d):
  _label_folder(d / "dogs")  # "dogs" is on the BEANS roster, but this is not BEANS' layout
  assert _open(d / "dogs").info.class_names == ("a", "b")


def case_partial_beans_download_is_not_taken_for_own_data(d):
  _wav(str(d / "watkins" / "x.wav"))
  _write_csv(str(d / "watkins" / "annotations.train.csv"), [["path", "label"], ["x.wav", "a"]])
  with pytest.raises(FileNotFoundError, match="BEANS dataset 'watkins': missing.*valid.csv"):
    _open(d / "watkins")


def case_unknown_dataset_points_to_own_data(d):
  with pytest.raises(FileNotFoundError, match="nope does not exist.*pass that folder or csv"):
    _open(d / "nope")


def case_split_folder_aliases(d):
  for k, split in enumerate(("train", "val", "test")):
    _label_folder(d / "ds" / split, n=1, seed=1000 * k)
  assert _open(d / "ds", "valid").num_examples == 2


def _csv_case(d, delimiter=",", bom=False, absolute=False):
  audio = d / "audio"
  rows = [["path", "label"]]
  for i in range(4):
    p = str(audio / f"c{i}.wav")
    _wav(p, seed=i)
    rows.append([p if absolute else f"audio/c{i}.wav", "ab"[i % 2]])
  _write_csv(str(d / "labels.csv"), rows, delimiter, bom)
  s = _open(d / "labels.csv")
  assert s.num_examples == 4 and s.info.class_names == ("a", "b") and s.info.name == "labels"
  return s


def case_csv_comma(d):
  _csv_case(d)


def case_csv_semicolon(d):
  _csv_case(d, delimiter=";")


def case_csv_excel_bom(d):
  _csv_case(d, bom=True)


def case_csv_absolute_paths(d):
  _csv_case(d, absolute=True)


def case_csv_paths_relative_to_the_csv(d):
  _wav(str(d / "audio" / "x.wav"))
  _wav(str(d / "audio" / "y.wav"), seed=1)
  _write_csv(str(d / "sheets" / "t.csv"), [["path", "label"], ["../audio/x.wav", "a"],
                                            ["../audio/y.wav", "b"]])
  assert _open(d / "sheets" / "t.csv").num_examples == 2


def case_csv_group_column_keeps_a_recording_together(d):
  rows = [["path", "label", "group"]]
  for i in range(12):  # 6 recordings of 2 clips each, 3 per class
    _wav(str(d / "w" / f"{i}.wav"), seed=i)
    rows.append([f"w/{i}.wav", "ab"[i // 6], f"rec{i // 2}"])
  _write_csv(str(d / "g.csv"), rows)
  split_of = {}
  for split in ("train", "valid", "test"):
    for e in _examples(_open(d / "g.csv", split)):
      split_of[int(os.path.basename(e["id"].decode())[:-4])] = split
  assert len(split_of) == 12 and all(split_of[2 * r] == split_of[2 * r + 1] for r in range(6))


def case_beans_csv_folder_not_on_the_roster(d):
  for k, split in enumerate(("train", "valid", "test")):
    for label in ("x", "y"):
      _wav(str(d / "ds" / "wav" / f"{split}{label}.wav"), seed=2 * k + (label == "y"))
    _write_csv(str(d / "ds" / f"annotations.{split}.csv"),
               [["path", "label", "extra"], [f"wav/{split}x.wav", "x", "1"],
                [f"wav/{split}y.wav", "y", "2"]])
  assert _open(d / "ds", "test").num_examples == 2
  assert "BEANS csv folder" in _open(d / "ds", "test").origin


def case_beans_jsonl_folder(d):
  for split in ("train", "test"):
    _wav(str(d / "det" / f"{split}.wav"), seconds=4.0)
    with open(d / "det" / f"{split}.jsonl", "w") as f:
      f.write(json.dumps({"path": f"{split}.wav", "length": 4.0,
                          "annotations": [{"st": 0.5, "ed": 1.5, "label": "frog"}]}) + "\n")
  s = _open(d / "det", "test")
  assert s.info.task == "detection" and s.num_examples == 3  # 2 s windows, 1 s hop over 4 s
  assert s.labels.tolist() == [[1.0], [1.0], [0.0]]


RAVEN_HEADER = ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
                "High Freq (Hz)\tSpecies")


def _raven(path, rows, header=RAVEN_HEADER):
  with open(path, "w") as f:
    f.write(header + "\n")
    for i, (st, ed, label) in enumerate(rows, 1):
      for view in ("Waveform 1", "Spectrogram 1"):  # Raven writes each selection per view
        f.write(f"{i}\t{view}\t1\t{st}\t{ed}\t500\t3000\t{label}\n")


def case_raven_tables(d):
  for rec in ("rec1", "rec2"):
    _wav(str(d / "raven" / f"{rec}.wav"), seconds=4.0)
    _raven(str(d / "raven" / f"{rec}.Table.1.selections.txt"), [(0.2, 1.2, "GRTI"),
                                                                (2.6, 3.4, "BLTI")])
  s = _open(d / "raven")
  assert s.info.task == "detection" and s.info.class_names == ("BLTI", "GRTI")
  assert s.num_examples == 6 and "Raven tables" in s.origin
  y = s.labels.reshape(2, 3, 2)
  # windows 0-2, 1-3, 2-4 s; GRTI (index 1) at 0.2-1.2 overlaps 1-3 by exactly 0.2: not enough
  assert y[0].tolist() == [[0, 1], [1, 0], [1, 0]]
  assert json.loads(open(s.builder.builder_config.source.split_files["train"]).readline())[
      "annotations"][0]["label"] == "GRTI"  # each selection once, not once per Raven view


def case_raven_recording_without_table_is_named(d):
  _wav(str(d / "raven" / "rec1.wav"), seconds=2.0)
  _wav(str(d / "raven" / "forgotten.wav"), seconds=2.0)
  _raven(str(d / "raven" / "rec1.Table.1.selections.txt"), [(0.1, 0.9, "x")])
  s = _open(d / "raven")
  assert s.num_examples == 1
  assert "1 recordings have no selection table and were left out: forgotten.wav" in _warning(
      s, "no_table")["message"]
  assert "split(s) test, valid would be empty" in _warning(s, "split_empty")["message"]


def case_raven_empty_table_is_all_background(d):
  for rec, rows in (("rec1", [(0.1, 0.9, "x")]), ("rec2", [])):
    _wav(str(d / "raven" / f"{rec}.wav"), seconds=2.0)
    _raven(str(d / "raven" / f"{rec}.Table.1.selections.txt"), rows)
  s = _open(d / "raven")
  assert s.num_examples == 2 and sorted(s.labels.tolist()) == [[0.0], [1.0]]


def case_raven_table_with_begin_file_column(d):
  _wav(str(d / "raven" / "audio_2024.wav"), seconds=2.0)
  with open(d / "raven" / "selections.txt", "w") as f:
    f.write("Selection\tBegin Time (s)\tEnd Time (s)\tBegin File\tcall\n"
            "1\t0.1\t0.9\taudio_2024.wav\ttrill\n")
  s = _open(d / "raven")
  assert s.info.class_names == ("trill",) and s.labels.tolist() == [[1.0]]


def case_numeric_labels_read_as_floats(d):
  _wav(str(d / "a" / "x.wav"))
  _wav(str(d / "a" / "y.wav"), seed=1)
  _write_csv(str(d / "n.csv"), [["path", "label"], ["a/x.wav", "2.0"], ["a/y.wav", "2"]])
  s = _open(d / "n.csv")
  assert s.info.class_names == ("2",)
  w = _warning(s, "labels_merged")
  assert "spellings '2' x1, '2.0' x1 were merged" in w["message"] and "'2'" in w["message"]


def case_label_trailing_space(d):
  rows = [["path", "label"]]
  for i in range(4):
    _wav(str(d / "w" / f"{i}.wav"), seed=i)
    rows.append([f"w/{i}.wav", ["B32 ", "B32", "C7", "C7 "][i]])
  _write_csv(str(d / "t.csv"), rows)
  s = _open(d / "t.csv")
  assert s.info.class_names == ("B32", "C7")  # 2 classes, not 4
  assert len([w for w in s.warnings if w["kind"] == "labels_merged"]) == 2
  assert "'B32 ' x1" in s.warnings[0]["message"] and str(d / "t.csv") in s.warnings[0]["message"]


def case_label_unicode_forms(d):
  nfc, nfd = "Mése", unicodedata.normalize("NFD", "Mése")
  _wav(str(d / "x.wav"))
  _wav(str(d / "y.wav"), seed=1)
  _write_csv(str(d / "u.csv"), [["path", "label"], ["x.wav", nfc], ["y.wav", nfd]])
  s = _open(d / "u.csv")
  assert s.info.class_names == (nfc,) and _warning(s, "labels_merged")["count"] == 2


def case_non_ascii_and_comma_file_names(d):
  _wav(str(d / "ds" / "mésange" / "chant, 1.wav"))
  _wav(str(d / "ds" / "ñandú" / "call 2.wav"), seed=1)
  s = _open(d / "ds")
  assert s.num_examples == 2 and s.info.class_names == ("mésange", "ñandú")


def case_formats_and_bit_depths(d):
  x = _wav(str(d / "ds" / "a" / "p24.wav"), subtype="PCM_24")
  _wav(str(d / "ds" / "a" / "u8.wav"), subtype="PCM_U8")
  _wav(str(d / "ds" / "b" / "f.flac"), subtype="PCM_16")
  _wav(str(d / "ds" / "b" / "o.ogg"), subtype="VORBIS")
  _wav(str(d / "ds" / "b" / "m.mp3"), subtype="MPEG_LAYER_III")
  _wav(str(d / "ds" / "b" / "a.aiff"), subtype="PCM_16")
  _wav(str(d / "ds" / "b" / "f32.wav"), subtype="FLOAT")
  s = _open(d / "ds")
  assert s.num_examples == 7 and _warnings_except_thin_splits(s) == []
  np.testing.assert_allclose(_audio_of(s, "p24.wav"), x, atol=1 / 32768)


# ---- input checks: a warning naming the files, the data unchanged or exactly as stated -----


def case_float_beyond_one_is_peak_normalised_not_clipped(d):
  _label_folder(d / "ds", n=1)
  x = 5.0 * h.tone(SR, CLIP)  # peak about 1.6
  _wav(str(d / "ds" / "a" / "loud.wav"), x, subtype="FLOAT")
  s = _open(d / "ds")
  w = _warning(s, "peak_normalized")
  assert w["files"] == [str(d / "ds" / "a" / "loud.wav")] and "not clipped" in w["message"]
  assert "loud.wav (peak" in w["message"]
  np.testing.assert_allclose(_audio_of(s, "loud.wav"), x / np.abs(x).max(), atol=1 / 32768)


def case_stereo_in_antiphase_is_warned(d):
  _label_folder(d / "ds", n=1)
  x = h.tone(SR, CLIP)
  _wav(str(d / "ds" / "a" / "anti.wav"), np.stack([x, -x], axis=1))
  s = _open(d / "ds")
  w = _warning(s, "antiphase")
  assert "anti.wav" in w["message"] and "set channel=0 (or 1, ...)" in w["message"]
  assert np.all(_audio_of(s, "anti.wav") == 0)  # the average, as stated, not altered


def case_stereo_channel_picked(d):
  _label_folder(d / "ds", n=1)
  x = h.tone(SR, CLIP)
  _wav(str(d / "ds" / "a" / "anti.wav"), np.stack([x, -x], axis=1))
  s = _open(d / "ds", channel=1)
  assert not [w for w in s.warnings if w["kind"] == "antiphase"]
  np.testing.assert_allclose(_audio_of(s, "anti.wav"), -x, atol=1 / 32768)


def case_truncated_wav_warned_with_fraction(d):
  _label_folder(d / "ds", n=1)
  full = str(d / "ds" / "a" / "cut.wav")
  x = _wav(full)
  data = open(full, "rb").read()
  with open(full, "wb") as f:
    f.write(data[:44 + (len(data) - 44) // 2])
  s = _open(d / "ds")
  w = _warning(s, "truncated")
  assert "cut.wav (50% of the declared data present)" in w["message"]
  got = _audio_of(s, "cut.wav")
  np.testing.assert_allclose(got[:len(x) // 2], x[:len(x) // 2], atol=1 / 32768)


def case_short_file_warned(d):
  _label_folder(d / "ds", n=2)
  _wav(str(d / "ds" / "a" / "blip.wav"), seconds=0.02)
  s = _open(d / "ds", clip_seconds=CLIP)
  w = _warning(s, "short")
  assert "blip.wav (0.02 s)" in w["message"] and "10% of the 0.5 s clip" in w["message"]


def case_long_file_crop_reports_use(d):
  _label_folder(d / "ds", n=2)
  _wav(str(d / "ds" / "a" / "long.wav"), seconds=2.0)
  s = _open(d / "ds", clip_seconds=CLIP)
  w = _warning(s, "long")
  assert "only their first 0.5 s was used (25% of their audio)" in w["message"]
  assert "set long_files='split' to cut" in w["message"] and w["used_fraction"] == 0.25
  assert s.num_examples == 5


def case_long_file_split_into_clips(d):
  _label_folder(d / "ds", n=2)
  _wav(str(d / "ds" / "a" / "long.wav"), seconds=2.0)
  s = _open(d / "ds", clip_seconds=CLIP, long_files="split")
  assert s.num_examples == 4 + 4
  assert "cut into 4 clips (100% of their audio used)" in _warning(s, "long")["message"]
  ids = sorted(e["id"].decode() for e in _examples(s) if b"long" in e["id"])
  assert ids == ["a/long.wav", "a/long.wav@0.500", "a/long.wav@1.000", "a/long.wav@1.500"]


def case_resampling_summarised_once(d):
  _label_folder(d / "ds", n=2)
  _wav(str(d / "ds" / "a" / "hi.wav"), h.tone(44100, CLIP), sr=44100)
  _wav(str(d / "ds" / "b" / "lo.wav"), h.tone(32000, CLIP), sr=32000)
  s = _open(d / "ds")
  w = _warning(s, "resampled")
  assert "2 files resampled to 8000 Hz (rates found: 32000 Hz x1, 44100 Hz x1)" in w["message"]
  assert "files: 8000 Hz x4, 32000 Hz x1, 44100 Hz x1" in s.origin


def case_sample_rate_and_clip_overridable(d):
  _label_folder(d / "ds", n=1)
  s = _open(d / "ds", sample_rate=4000, clip_seconds=0.25)
  assert s.info.sample_rate == 4000 and s.info.clip_seconds == 0.25
  assert "data.sample_rate" in s.origin and "data.clip_seconds" in s.origin


# ---- errors: name the file and the fix -----------------------------------------------------


def _bad_file(d, name, write):
  _label_folder(d / "ds", n=1)
  path = str(d / "ds" / "a" / name)
  write(path)
  return path


def _raises_naming(d, path, exc=audio_io.AudioError, match="Fix:", **kwargs):
  with pytest.raises(exc) as e:
    _open(d / "ds", **kwargs)
  assert path in str(e.value) and match in str(e.value), str(e.value)


def case_corrupt_file(d):
  path = _bad_file(d, "bad.wav", lambda p: h.write_bad(p, "corrupt", SR))
  _raises_naming(d, path, match="unreadable or corrupt audio")


def case_empty_file(d):
  path = _bad_file(d, "bad.wav", lambda p: h.write_bad(p, "empty", SR))
  _raises_naming(d, path, match="0 bytes")


def case_zero_sample_file(d):
  path = _bad_file(d, "bad.wav", lambda p: _wav(p, np.zeros(0, np.float32)))
  _raises_naming(d, path, match="no samples")


def case_nan_samples(d):
  path = _bad_file(d, "bad.wav", lambda p: h.write_bad(p, "nan", SR))
  _raises_naming(d, path, match="NaN/inf")


def case_inf_samples(d):
  def write(p):
    x = h.tone(SR, CLIP)
    x[3] = np.inf
    _wav(p, x, subtype="FLOAT")
  _raises_naming(d, _bad_file(d, "bad.wav", write), match="1 NaN/inf samples")


def case_text_saved_as_wav(d):
  def write(p):
    with open(p, "w") as f:
      f.write("this is not audio\n")
  _raises_naming(d, _bad_file(d, "notes.wav", write), match="unreadable or corrupt")


def case_missing_file_in_csv(d):
  _wav(str(d / "x.wav"))
  _write_csv(str(d / "ds"), [["path", "label"], ["x.wav", "a"], ["gone.wav", "b"]])
  with pytest.raises(annotations.TableError, match="/ds:3: .*/gone.wav does not exist. Fix:"):
    _open(d / "ds")


def case_skip_bad_audio_skips_and_lists(d):
  _label_folder(d / "ds", n=3)
  path = str(d / "ds" / "a" / "bad.wav")
  h.write_bad(path, "corrupt", SR)
  s = _open(d / "ds", skip_bad_audio=True)
  assert s.num_examples == 6 and [x["path"] for x in s.skipped] == [path]


def case_every_file_of_a_split_bad(d):
  _label_folder(d / "ds", n=1)
  path = str(d / "ds" / "a" / "bad.wav")
  h.write_bad(path, "corrupt", SR)
  with pytest.raises(ValueError, match="ds/test: no examples left.*bad.wav.*Fix"):
    _open(d / "ds", skip_bad_audio=True)


def case_empty_csv(d):
  _write_csv(str(d / "ds"), [[""]])
  with pytest.raises(annotations.TableError, match="the table is empty.*Fix: write a header"):
    _open(d / "ds")


def case_header_only_csv(d):
  _write_csv(str(d / "ds"), [["path", "label"]])
  with pytest.raises(annotations.TableError, match=r"/ds: the table has a header but no rows"):
    _open(d / "ds")


def case_csv_wrong_columns(d):
  _write_csv(str(d / "ds"), [["file", "species"], ["x.wav", "a"]])
  with pytest.raises(annotations.TableError,
                     match=r"needs columns \['path', 'label'\], has \['file', 'species'\].*Fix"):
    _open(d / "ds")


def case_csv_empty_label(d):
  _wav(str(d / "x.wav"))
  _write_csv(str(d / "ds"), [["path", "label"], ["x.wav", " "]])
  with pytest.raises(annotations.TableError, match=r"/ds:2: empty path or label"):
    _open(d / "ds")


def case_no_layout_recognised(d):
  (d / "ds").mkdir()
  (d / "ds" / "readme.md").write_text("hi")
  with pytest.raises(ValueError, match="no layout recognised.*accepted: PATH/<label>/"):
    _open(d / "ds")


def case_raven_table_without_recording(d):
  (d / "ds").mkdir()
  _raven(str(d / "ds" / "lost.Table.1.selections.txt"), [(0.1, 0.2, "x")])
  with pytest.raises(annotations.TableError, match="lost.Table.1.selections.txt: no recording"):
    _open(d / "ds")


def case_dataset_json_names_the_missing_splits(d):
  _label_folder(d / "ds", n=1)  # label folders, but dataset.json says audio_folder splits
  with open(d / "ds" / "dataset.json", "w") as f:
    json.dump({"task": "classification", "sample_rate": SR, "clip_seconds": CLIP,
               "format": "audio_folder"}, f)
  with pytest.raises(FileNotFoundError, match="none of its splits exist.*Fix: list the splits"):
    _open(d / "ds")


def case_dataset_json_missing_field(d):
  _label_folder(d / "ds" / "train", n=1)
  with open(d / "ds" / "dataset.json", "w") as f:
    json.dump({"task": "classification", "format": "audio_folder"}, f)
  with pytest.raises(ValueError, match=r"dataset.json: invalid.*'sample_rate'.*Fix: it needs"):
    _open(d / "ds")


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items())
         if name.startswith("case_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name, tmp_path):
  CASES[name](tmp_path)


def test_there_are_at_least_30_cases():
  assert len(CASES) >= 30


@pytest.mark.parametrize("raw, expected", [
    ("2.0", "2"), (" B32 ", "B32"), ("2", "2"), ("007", "007"), ("1e3", "1000"), ("0.5", "0.5"),
    ("-3.0", "-3"), ("nan", "nan"), (unicodedata.normalize("NFD", "é"), "é"), (2.0, "2")])
def test_canonical_labels(raw, expected):
  assert labels.canonical(raw) == expected


def test_config_args_reach_open_split():
  from experiments.configs import own_data as own_data_config  # pylint: disable=g-import-not-at-top
  config = own_data_config.get_config(
      "root=/data/lab/tits.csv,channel=0,long_files=split,sample_rate=16000,clip_seconds=3")
  assert config.data.root == "/data/lab" and config.data.datasets == ("tits.csv",)
  assert config.data.split == "all"
  assert pipeline.config_options(config.data, "/w") == dict(
      skip_bad_audio=False, cache_dir="/w/cache", channel=0, long_files="split",
      sample_rate=16000, clip_seconds=3.0, shift_seconds=None, seed=0,
      class_order="sorted", window_rule="cover_tail", overlap_tolerance=1e-9,  # not paper mode
      rules=rules.InputRules())
  config = own_data_config.get_config("root=/data/lab/tits.csv,regimes=frozen+finetuned")
  assert config.data.split == "test" and pipeline.config_options(config.data, "/w")[
      "channel"] is None


# ---- splits and read-only data -------------------------------------------------------------


def test_split_is_stratified_grouped_by_recording_and_reused(tmp_path):
  _label_folder(tmp_path / "ds", n=5, seconds=1.0)
  opts = dict(clip_seconds=0.25, long_files="split")
  parts = {s: _open(tmp_path / "ds", s, **opts) for s in ("train", "valid", "test")}
  recordings = {s: {e["id"].decode().split("@")[0] for e in _examples(p)}
                for s, p in parts.items()}
  assert not (recordings["train"] & recordings["test"]) and not (
      recordings["train"] & recordings["valid"]) and not (recordings["valid"] & recordings["test"])
  assert {s: len(r) for s, r in recordings.items()} == {"train": 6, "valid": 2, "test": 2}
  assert all(p.num_examples == 4 * len(recordings[s]) for s, p in parts.items())
  for s, p in parts.items():  # stratified: both classes in every split
    assert set(p.labels.tolist()) == {0, 1}
  split_csv = next(os.path.join(r, f) for r, _, fs in os.walk(tmp_path / "cache")
                   for f in fs if f == "split.csv")
  text = open(split_csv).read()
  assert text.startswith("path,label,group,split") and text.count("\n") == 11
  # Edited by hand: moved files stay moved (the split is reused, not recomputed).
  edited = text.replace(",train\n", ",test\n", 1)
  with open(split_csv, "w") as f:
    f.write(edited)
  assert _open(tmp_path / "ds", "test", **opts).num_examples == 4 * 3


def test_read_only_data_root(tmp_path):
  _label_folder(tmp_path / "shared" / "ds", n=2)
  _write_csv(str(tmp_path / "shared" / "ds.csv"), [["path", "label"], ["ds/a/a0.wav", "a"],
                                                   ["ds/b/b0.wav", "b"]])
  modes = []
  for root, dirs, files in os.walk(tmp_path / "shared"):
    for name in dirs + files:
      modes.append(os.path.join(root, name))
  for p in modes + [str(tmp_path / "shared")]:
    os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
  def listing():
    return sorted(os.path.join(r, f) for r, ds, fs in os.walk(tmp_path / "shared")
                  for f in ds + fs)
  try:
    before = listing()
    s = _open(tmp_path / "shared" / "ds", cache_dir=str(tmp_path / "work" / "cache"))
    assert s.num_examples == 4
    assert _open(tmp_path / "shared" / "ds.csv",
                 cache_dir=str(tmp_path / "work" / "cache")).num_examples == 2
    # Nothing written into the data (the old default put `_tfds` there; as root, chmod alone
    # would not have stopped it, so the listing is what proves it).
    assert listing() == before
    assert os.path.isdir(tmp_path / "work" / "cache" / "tfds")
  finally:
    for p in modes + [str(tmp_path / "shared")]:
      os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
  shutil.rmtree(tmp_path / "shared")


def test_thin_test_split_is_named_when_resolved(tmp_path, caplog):
  # 3 labels x 6 files: the made test split holds 1 clip per class, too few to compare models.
  root = _label_folder(str(tmp_path / "thin"), labels=("a", "b", "c"), n=6)
  with caplog.at_level("WARNING"):
    source = own_data.resolve(root, cache_dir=str(tmp_path / "cache"))
  found = [w for w in source.warnings if w["kind"] == "split_small"]
  assert [w["message"].split(": ", 1)[1][:40] for w in found] == [
      "the test split has fewer than 3 clips of", "the valid split has fewer than 3 clips o"]
  assert "a (1), b (1), c (1)" in found[0]["message"] and "13 per class" in found[0]["message"]
  assert found[0]["message"] in caplog.text  # said when the data is resolved, before training
  plenty = own_data.resolve(_label_folder(str(tmp_path / "plenty"), labels=("a", "b"), n=13),
                            cache_dir=str(tmp_path / "cache"))
  assert not [w for w in plenty.warnings if w["kind"] == "split_small"]
