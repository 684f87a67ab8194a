"""tfds builders on generated data: examples, labels, windows, staleness, bad audio, BEANS layout."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import split_classes
from bioacoustics_jax.data import summary
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.data import windows
from tests.data import helpers_audio as h

BAD_KINDS = ("corrupt", "empty", "nan", "missing", "stereo", "wrong_rate")
STRICT = dict(downmix=False, resample_mismatched=False)  # makes stereo / wrong_rate bad too


def _examples(split_data):
  ds = split_data.builder.as_dataset(split=split_data.split, shuffle_files=False)
  return list(ds.as_numpy_iterator())


def test_classification_examples_match_csv(tiny_root):
  s = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  folder = os.path.join(tiny_root, "synth_birds")
  exs = _examples(s)
  assert s.num_examples == len(exs) == 8 * 3 and s.skipped == []
  for ex in exs[:5]:
    path = ex["id"].decode()
    wav, _ = sf.read(os.path.join(folder, path), dtype="int16")
    np.testing.assert_array_equal(ex["audio"], wav)  # int16 round trip is exact
    assert s.info.class_names[ex["label"]] == path.split("/")[-1].rsplit("_", 1)[0]


def test_detection_windows_labels_and_background(tiny_root):
  folder = os.path.join(tiny_root, "synth_frogs_detection")
  info = pipeline.open_split("synth_frogs_detection", "test", data_root=tiny_root).info
  all_labels = []
  for split in ("train", "valid", "test"):
    s = pipeline.open_split("synth_frogs_detection", split, data_root=tiny_root)
    exs = _examples(s)
    with open(os.path.join(folder, f"{split}.jsonl")) as f:
      recs = [json.loads(line) for line in f]
    expected_ids, expected_y = [], []
    for r in recs:
      starts = windows.window_starts(r["length"], 2.0, 1.0)
      anns = [(a["st"], a["ed"], info.class_names.index(a["label"])) for a in r["annotations"]]
      expected_ids += [f"{r['path']}@{st:.3f}" for st in starts]
      expected_y.append(windows.window_labels(starts, 2.0, anns, info.num_classes))
    assert [e["id"].decode() for e in exs] == expected_ids
    np.testing.assert_array_equal(np.stack([e["label"] for e in exs]), np.concatenate(expected_y))
    # Window audio is the recording's slice (last window zero-padded past the end).
    wav, _ = sf.read(os.path.join(folder, recs[0]["path"]), dtype="int16")
    np.testing.assert_array_equal(exs[1]["audio"], wav[16000:48000])
    all_labels.append(s.labels)
  y = np.concatenate(all_labels)
  assert windows.is_background(y).any() and (~windows.is_background(y)).any()


def test_a_split_is_prepared_alone(tmp_path):
  """A frozen cell reads one split: opening it prepares that split and no other, and the
  examples equal those of the whole dataset's preparation ("all")."""
  size = synthetic.SuiteSize(clips_per_class=(2, 1, 1), clip_scale=0.1)
  root = str(tmp_path)
  synthetic.write_suite(root, size=size, seed=0, names=["synth_birds"])
  test = pipeline.open_split("synth_birds", "test", data_root=root)
  assert list(test.builder.info.splits) == ["test"]
  everything = pipeline.open_split("synth_birds", pipeline.ALL, data_root=root)
  assert sorted(everything.builder.info.splits) == ["test", "train", "valid"]
  whole = everything.builder.as_dataset(split="test", shuffle_files=False)
  assert ([e["id"] for e in _examples(test)] ==
          [e["id"] for e in whole.as_numpy_iterator()])
  assert test.num_examples == everything.builder.info.splits["test"].num_examples
  with pytest.raises(ValueError, match=r"no split 'tset'.*\['test', 'train', 'valid'\]"):
    pipeline.open_split("synth_birds", "tset", data_root=root)


def test_annotated_classes_read_without_preparing(tmp_path, tiny_root):
  """The train split's classes (the 'classes absent from train' note of a frozen cell) come
  from its annotations, equal to the prepared split's labels, and prepare nothing."""
  folder = tmp_path / "own"
  for j, (split, labels) in enumerate((("train", "ab"), ("test", "abc"))):
    for i, label in enumerate(labels):
      audio_io.write_wav(str(folder / split / label / f"{i}.wav"),
                         h.tone(8000, 0.25, 300 + 100 * i + 40 * j), 8000)
  cache = str(tmp_path / "cache")
  assert split_classes.annotated_classes("own", "train", data_root=str(tmp_path),
                                    cache_dir=cache) == {0, 1}
  assert not any("only-train" in d for _, dirs, _ in os.walk(cache) for d in dirs)
  train = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  assert split_classes.annotated_classes("synth_birds", "train", data_root=tiny_root) == set(
      np.unique(train.labels).tolist())
  with pytest.raises(ValueError, match="no split 'dev'"):
    split_classes.annotated_classes("synth_birds", "dev", data_root=tiny_root)


def test_regenerated_source_is_not_stale(tmp_path):
  size = synthetic.SuiteSize(clips_per_class=(1, 1, 1), clip_scale=0.1)
  root = str(tmp_path)
  synthetic.write_suite(root, size=size, seed=0, names=["synth_birds"])
  a = pipeline.open_split("synth_birds", "test", data_root=root)
  audio_a = _examples(a)[0]["audio"]
  synthetic.write_suite(root, size=size, seed=1, names=["synth_birds"])
  b = pipeline.open_split("synth_birds", "test", data_root=root)
  assert a.builder.builder_config.name != b.builder.builder_config.name
  assert not np.array_equal(audio_a, _examples(b)[0]["audio"])


def _bad_set(root, kinds, name="badset"):
  rows = [("good_a.wav", "a"), ("good_b.wav", "b")]
  folder = os.path.join(root, name)
  for i, lbl in enumerate("ab"):
    audio_io.write_wav(os.path.join(folder, f"good_{lbl}.wav"), h.tone(8000, 0.25, 300 + 200 * i),
                       8000)
  for k in kinds:
    h.write_bad(os.path.join(folder, f"bad_{k}.wav"), k, 8000)
    rows.append((f"bad_{k}.wav", "a"))
  return h.classification_folder(root, name, {"train": rows, "test": rows[:2]})


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_audio_fails_build_naming_the_file(tmp_path, kind):
  _bad_set(str(tmp_path), [kind])
  with pytest.raises(audio_io.AudioError) as e:
    pipeline.open_split("badset", "train", data_root=str(tmp_path), **STRICT)
  assert f"bad_{kind}.wav" in str(e.value) and "Fix:" in str(e.value)


def test_stereo_and_wrong_rate_are_fine_by_default(tmp_path):
  _bad_set(str(tmp_path), ["stereo", "wrong_rate"])
  s = pipeline.open_split("badset", "train", data_root=str(tmp_path))
  assert s.num_examples == 4 and s.skipped == []
  # One line per split for the averaged files (each one is named in the log).
  (downmixed,) = [w for w in s.warnings if w["kind"] == "downmixed"]
  assert downmixed["count"] == 1 and "bad_stereo.wav" in downmixed["message"]


def test_skip_bad_audio_lists_every_bad_file(tmp_path):
  _bad_set(str(tmp_path), BAD_KINDS)
  s = pipeline.open_split("badset", "train", data_root=str(tmp_path), skip_bad_audio=True, **STRICT)
  assert s.num_examples == 2
  skipped = {os.path.basename(x["path"]): x["reason"] for x in s.skipped}
  assert sorted(skipped) == sorted(f"bad_{k}.wav" for k in BAD_KINDS)
  assert "NaN" in skipped["bad_nan.wav"] and "empty" in skipped["bad_empty.wav"]
  # Kept with the prepared data: a second open (no rebuild) still lists them.
  again = pipeline.open_split("badset", "train", data_root=str(tmp_path), skip_bad_audio=True,
                              **STRICT)
  assert again.skipped == s.skipped
  assert pipeline.open_split("badset", "test", data_root=str(tmp_path), skip_bad_audio=True,
                             **STRICT).skipped == []
  # The console says so once per split (every file is named in the log and report.md).
  lines = []
  summary.log_warnings(dict(dataset="badset", split="train", skipped=s.skipped),
                       lambda fmt, *args: lines.append(fmt % args))
  assert len(lines) == 1 and f"badset/train: {len(BAD_KINDS)} bad audio file(s)" in lines[0]


def test_unknown_label_and_missing_split_are_clear(tmp_path):
  root = str(tmp_path)
  folder = os.path.join(root, "lbl")
  audio_io.write_wav(os.path.join(folder, "x.wav"), h.tone(8000, 0.25), 8000)
  h.classification_folder(root, "lbl", {"train": [("x.wav", "zebra")]})
  with pytest.raises(ValueError, match="zebra"):
    pipeline.open_split("lbl", "train", data_root=root)
  h.classification_folder(root, "lbl", {"train": [("x.wav", "a")]})
  with pytest.raises(ValueError, match="no split 'test'"):
    pipeline.open_split("lbl", "test", data_root=root)


def test_missing_beans_folder_says_what_to_download(tmp_path):
  with pytest.raises(FileNotFoundError) as e:
    pipeline.open_split("watkins", "train", data_root=str(tmp_path))
  assert "earthspecies/beans" in str(e.value) and "watkins" in str(e.value)
  with pytest.raises(FileNotFoundError, match="Unknown dataset"):
    pipeline.open_split("no_such_set", "train", data_root=str(tmp_path))


def test_real_beans_layout_detection_with_unknown_label(tmp_path):
  """hainan-gibbons as BEANS writes it: paths relative to the BEANS checkout, label 7 -> '1'."""
  data = tmp_path / "beans" / "data"
  wav_rel = "data/hainan_gibbons/wav/r0.wav"
  audio_io.write_wav(str(tmp_path / "beans" / wav_rel), h.tone(9600, 8.0), 9600)
  rec = {"path": wav_rel, "length": 8.0,
         "annotations": [{"st": 0.5, "ed": 1.5, "label": 2}, {"st": 5.0, "ed": 6.0, "label": 7}]}
  for split in ("train", "valid", "test"):
    (data / "hainan_gibbons").mkdir(parents=True, exist_ok=True)
    (data / "hainan_gibbons" / f"{split}.jsonl").write_text(json.dumps(rec) + "\n")
  s = pipeline.open_split("hainan-gibbons", "train", data_root=str(data))
  assert (s.info.sample_rate, s.info.clip_seconds, s.info.shift_seconds) == (9600, 4.0, 2.0)
  assert s.info.class_names == ("1", "2", "3")
  # Windows at 0, 2, 4 s of 4 s: [0,4] has the '2' call; [4,8] and [2,6] the unknown -> '1'.
  np.testing.assert_array_equal(s.labels, [[0, 1, 0], [1, 0, 0], [1, 0, 0]])
  assert _examples(s)[0]["audio"].shape == (4 * 9600,)


def test_audio_folder_builder_subfolders_and_csv(tmp_path):
  folder = tmp_path / "myclips"
  for split, n in (("train", 2), ("test", 1)):
    for i, lbl in enumerate(("cat", "dog")):
      for k in range(n):
        audio_io.write_wav(str(folder / split / lbl / f"{k}.wav"), h.tone(8000, 0.1, 200 + i), 8000)
  meta = {"name": "myclips", "task": "classification", "format": "audio_folder",
          "sample_rate": 8000, "clip_seconds": 0.25}
  (folder / "dataset.json").write_text(json.dumps(meta))
  s = pipeline.open_split("myclips", "train", data_root=str(tmp_path))
  assert s.info.class_names == ("cat", "dog") and s.num_examples == 4
  exs = _examples(s)
  assert [e["id"].decode() for e in exs] == ["train/cat/0.wav", "train/cat/1.wav",
                                             "train/dog/0.wav", "train/dog/1.wav"]
  assert [int(e["label"]) for e in exs] == [0, 0, 1, 1]
  assert exs[0]["audio"].shape == (2000,) and not exs[0]["audio"][900:].any()  # zero-padded
  assert pipeline.open_split("myclips", "test", data_root=str(tmp_path)).num_examples == 2
  # The same files listed in a csv instead of sub-folders.
  (folder / "list.csv").write_text("path,label\ntrain/dog/0.wav,dog\ntest/cat/0.wav,cat\n")
  meta.update(name="myclips", splits={"train": "list.csv"})
  (folder / "dataset.json").write_text(json.dumps(meta))
  s = pipeline.open_split("myclips", "train", data_root=str(tmp_path))
  assert s.info.class_names == ("cat", "dog")
  assert [int(e["label"]) for e in _examples(s)] == [1, 0]


def test_detection_builder_overlap_edge_cases(tmp_path):
  """Through the builder: overlap exactly 0.2 labels nothing, 0.202 labels the window."""
  folder = tmp_path / "edge"
  audio_io.write_wav(str(folder / "r.wav"), h.tone(800, 10.0), 800)
  rec = {"path": "r.wav", "length": 10.0, "annotations": [
      {"st": 4.0, "ed": 12.0, "label": "a"},    # window [0, 5]: 1.0 / 5 = 0.2 -> no
      {"st": 3.99, "ed": 12.0, "label": "b"}]}  # window [0, 5]: 1.01 / 5 -> yes
  for split in ("train", "valid", "test"):
    (folder / f"{split}.jsonl").write_text(json.dumps(rec) + "\n")
  (folder / "dataset.json").write_text(json.dumps({
      "name": "edge", "task": "detection", "sample_rate": 800, "window_seconds": 5.0,
      "shift_seconds": 5.0, "class_names": ["a", "b", "c"]}))
  s = pipeline.open_split("edge", "train", data_root=str(tmp_path))
  np.testing.assert_array_equal(s.labels, [[0, 1, 0], [1, 1, 0]])
  assert s.count(drop_background=True) == 2


def test_audio_folder_new_clip_is_not_stale(tmp_path):
  folder = tmp_path / "clips"
  audio_io.write_wav(str(folder / "train" / "x" / "0.wav"), h.tone(8000, 0.1), 8000)
  (folder / "dataset.json").write_text(json.dumps({
      "name": "clips", "task": "classification", "format": "audio_folder",
      "sample_rate": 8000, "clip_seconds": 0.1, "splits": {"train": "train"}}))
  assert pipeline.open_split("clips", "train", data_root=str(tmp_path)).num_examples == 1
  audio_io.write_wav(str(folder / "train" / "x" / "1.wav"), h.tone(8000, 0.1), 8000)
  assert pipeline.open_split("clips", "train", data_root=str(tmp_path)).num_examples == 2


def test_beans_format_without_class_list_uses_annotation_labels(tmp_path):
  folder = tmp_path / "mine"
  audio_io.write_wav(str(folder / "x.wav"), h.tone(8000, 0.1), 8000)
  (folder / "annotations.train.csv").write_text("path,label\nx.wav,owl\nx.wav,lark\n")
  (folder / "dataset.json").write_text(json.dumps({
      "name": "mine", "task": "classification", "sample_rate": 8000, "clip_seconds": 0.1,
      "splits": {"train": "annotations.train.csv"}}))
  s = pipeline.open_split("mine", "train", data_root=str(tmp_path))
  assert s.info.class_names == ("lark", "owl") and list(s.labels) == [1, 0]
