"""Own recordings, round two (issue 31): nothing dropped, doubled or merged without a word, and
every error names the right thing.

Each case writes real tones (8 kHz, 0.5 s) in its own folder, opens it as the experiment does
(pipeline.open_split, cache outside the data) and asserts the warning or the one-line error, and
that the examples are exactly the files named.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time

import pytest

from bioacoustics_jax import config_checks
from bioacoustics_jax import option_syntax
from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import annotations
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import rules
from bioacoustics_jax.data import summary
from tests.data import helpers_audio as h
from tests.data.test_own_data import _examples
from tests.data.test_own_data import _label_folder
from tests.data.test_own_data import _open
from tests.data.test_own_data import _warning
from tests.data.test_own_data import _wav
from tests.data.test_own_data import _write_csv


def _ids(s) -> list[str]:
  return sorted(e["id"].decode() for e in _examples(s))


def _labels_by_file(s) -> dict[str, int]:
  return {e["id"].decode(): int(e["label"]) for e in _examples(s)}


def _one_line(e) -> str:
  text = str(e.value)
  assert "\n" not in text, text
  return text


def _csv_of(d, rows, n_files=None):
  """Writes w/0.wav ... (distinct tones) and a csv of `rows` [(file index, label)]."""
  for i in range(n_files or 1 + max(i for i, _ in rows)):
    _wav(str(d / "w" / f"{i}.wav"), seed=i)
  _write_csv(str(d / "t.csv"), [["path", "label"]] + [[f"w/{i}.wav", lbl] for i, lbl in rows])
  return d / "t.csv"


# ---- duplicate rows ------------------------------------------------------------------------


def test_file_listed_twice_with_one_label_is_used_once(tmp_path):
  rows = [(i, "ab"[i % 2]) for i in range(8)] + [(3, "b")]  # 9 rows, 8 files
  s = _open(_csv_of(tmp_path, rows))
  w = _warning(s, "duplicates")
  assert f"{tmp_path / 't.csv'}:10 (repeats {tmp_path / 't.csv'}:5)" in w["message"]
  assert w["count"] == 1 and "used once" in w["message"]
  assert _ids(s) == [f"w/{i}.wav" for i in range(8)]


def test_copy_and_link_of_one_recording_are_used_once(tmp_path):
  _label_folder(tmp_path / "ds", n=2)
  x = str(tmp_path / "ds" / "a" / "a0.wav")
  with open(x, "rb") as f, open(tmp_path / "ds" / "a" / "copy.wav", "wb") as g:
    g.write(f.read())
  os.symlink(x, tmp_path / "ds" / "a" / "link.wav")
  s = _open(tmp_path / "ds")
  w = _warning(s, "duplicates")
  assert w["count"] == 2 and "copy.wav (same content as" in w["message"]
  assert "link.wav (same file as" in w["message"]  # a link: the same file
  assert _ids(s) == ["a/a0.wav", "a/a1.wav", "b/b0.wav", "b/b1.wav"]


def test_files_alike_at_start_and_middle_but_not_the_same_are_both_used(tmp_path):
  _label_folder(tmp_path / "ds", n=2)
  _wav(str(tmp_path / "ds" / "a" / "long.wav"), seconds=2.0, seed=9)  # 32 KB: past 2 samples
  data = bytearray(open(tmp_path / "ds" / "a" / "long.wav", "rb").read())
  data[-2] ^= 0xFF  # one sample at the end differs: the quick digest alone would merge them
  (tmp_path / "ds" / "a" / "late.wav").write_bytes(bytes(data))
  s = _open(tmp_path / "ds")
  assert not [w for w in s.warnings if w["kind"] == "duplicates"]
  assert _ids(s) == ["a/a0.wav", "a/a1.wav", "a/late.wav", "a/long.wav", "b/b0.wav", "b/b1.wav"]


def test_file_under_two_labels_stops_naming_both(tmp_path):
  table = _csv_of(tmp_path, [(0, "B32"), (1, "B32"), (2, "SW83"), (3, "SW83"), (1, "SW83")])
  with pytest.raises(ValueError) as e:
    _open(table)
  text = _one_line(e)
  assert text.startswith(f"{table}:3 and {table}:6: w/1.wav is listed under 2 labels, "
                         "'B32' and 'SW83'.")
  assert "duplicates='keep'" in text and "multi-label" in text


def test_file_under_two_labels_kept_when_asked(tmp_path):
  table = _csv_of(tmp_path, [(0, "B32"), (1, "B32"), (2, "SW83"), (3, "SW83"), (1, "SW83")])
  s = _open(table, rules=rules.InputRules(duplicates="keep"))
  w = _warning(s, "duplicate_labels_kept")
  assert "w/1.wav ('B32', 'SW83')" in w["message"] and "data.duplicates=keep" in w["message"]
  assert _ids(s) == ["w/0.wav", "w/1.wav", "w/1.wav", "w/2.wav", "w/3.wav"]
  assert sorted(s.labels.tolist()) == [0, 0, 1, 1, 1]


# ---- nothing left out silently -------------------------------------------------------------


def test_every_unused_file_counted_by_reason_in_log_and_report(tmp_path):
  root = tmp_path / "ds"
  _label_folder(root, n=2)
  (root / ".DS_Store").write_bytes(b"\0")
  _wav(str(root / "_old" / "a" / "x.wav"), seed=60)  # a folder set aside: counted, not entered
  (root / "a" / "notes.txt").write_text("field notes")
  (root / "a" / "c.m4a").write_bytes(b"\0\0\0 ftypM4A ")
  _wav(str(root / "stray.wav"), seed=50)  # not in a label folder
  os.symlink(str(root / "gone.wav"), root / "b" / "dangling.wav")
  s = _open(root)
  w = _warning(s, "left_out")
  assert w["reasons"] == {"audio_format": 1, "other_extension": 1, "hidden": 2,
                          "unreadable": 1, "outside_labels": 1}
  assert "6 files not used" in w["message"] and "a/c.m4a" in w["message"]
  assert ".DS_Store, _old/" in w["message"]
  assert "ffmpeg -i in.m4a out.wav" in w["message"] and "b/dangling.wav" in w["message"]
  assert "(6 other files under it not used" in s.origin
  assert _ids(s) == ["a/a0.wav", "a/a1.wav", "b/b0.wav", "b/b1.wav"]
  meta = dict(dataset="ds", data_warnings=s.warnings, data_origin=s.origin)
  section = "\n".join(summary.markdown_section([meta]))
  assert "## Data" in section and f"- {w['message']}" in section


def test_csv_folder_counts_recordings_the_csv_forgot(tmp_path):
  table = _csv_of(tmp_path, [(0, "a"), (1, "b")], n_files=3)
  s = _open(table)
  w = _warning(s, "left_out")
  assert w["reasons"] == {"not_listed": 1} and "w/2.wav" in w["message"]
  assert _ids(s) == ["w/0.wav", "w/1.wav"]


def test_label_folder_without_usable_audio_stops(tmp_path):
  root = tmp_path / "ds"
  _label_folder(root, n=2)
  for i in range(3):
    (root / "Wren" / f"w{i}.m4a").parent.mkdir(exist_ok=True)
    (root / "Wren" / f"w{i}.m4a").write_bytes(b"\0\0\0 ftypM4A ")
  with pytest.raises(ValueError) as e:
    _open(root)
  text = _one_line(e)
  assert f"{root}: 1 label folder(s) with no usable audio file ('Wren': 3 audio in a format" in text
  assert "empty_labels='drop'" in text and "ffmpeg" in text


def test_label_folder_without_usable_audio_dropped_when_asked(tmp_path):
  root = tmp_path / "ds"
  _label_folder(root, n=2)
  (root / "Wren").mkdir()
  (root / "Wren" / "w.m4a").write_bytes(b"\0\0\0 ftypM4A ")
  s = _open(root, rules=rules.InputRules(empty_labels="drop"))
  assert s.info.class_names == ("a", "b")
  assert "'Wren': 1 audio in a format" in _warning(s, "labels_dropped")["message"]
  assert _warning(s, "left_out")["reasons"] == {"audio_format": 1}
  assert _ids(s) == ["a/a0.wav", "a/a1.wav", "b/b0.wav", "b/b1.wav"]


def test_readable_extensions_are_what_libsndfile_opens():
  found = audio_io.readable_extensions()
  assert catalog.AUDIO_EXTENSIONS == found
  assert {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".caf", ".au", ".w64", ".rf64"} <= set(
      found)  # README's list
  assert not set(found) & set(audio_io.UNREADABLE_AUDIO)  # this libsndfile has no AAC decoder


# ---- label spellings -----------------------------------------------------------------------


def test_case_and_leading_zero_variants_merge_with_a_warning(tmp_path):
  table = _csv_of(tmp_path, [(0, "Robin"), (1, "Robin"), (2, "robin"), (3, "01"), (4, "1")])
  s = _open(table)
  assert s.info.class_names == ("1", "Robin")
  messages = sorted(w["message"] for w in s.warnings if w["kind"] == "labels_merged")
  assert len(messages) == 2
  assert "spellings '01' x1, '1' x1 were merged into class '1'" in messages[0]
  assert "spellings 'Robin' x2, 'robin' x1 were merged into class 'Robin'" in messages[1]
  assert all("case and leading zeros ignored" in m and "labels='exact'" in m for m in messages)
  assert _labels_by_file(s) == {"w/0.wav": 1, "w/1.wav": 1, "w/2.wav": 1, "w/3.wav": 0,
                               "w/4.wav": 0}


def test_labels_exact_keeps_them_apart(tmp_path):
  table = _csv_of(tmp_path, [(0, "Robin"), (1, "Robin"), (2, "robin"), (3, "01"), (4, "1")])
  s = _open(table, rules=rules.InputRules(labels="exact"))
  assert s.info.class_names == ("01", "1", "Robin", "robin")
  assert not [w for w in s.warnings if w["kind"] == "labels_merged"]
  assert _labels_by_file(s) == {"w/0.wav": 2, "w/1.wav": 2, "w/2.wav": 3, "w/3.wav": 0,
                               "w/4.wav": 1}


def _beans_watkins(root, labels_per_split):
  folder = root / "watkins"
  for k, (split, labels) in enumerate(labels_per_split.items()):
    rows = [["path", "label"]]
    for i, label in enumerate(labels):
      _wav(str(folder / "wav" / f"{split}{i}.wav"), seed=10 * k + i)
      rows.append([f"wav/{split}{i}.wav", label])
    _write_csv(str(folder / f"annotations.{split}.csv"), rows)


def test_beans_path_merges_the_same_way_with_the_same_warning(tmp_path):
  _beans_watkins(tmp_path, {"train": ["B32 ", "b32"], "valid": ["B32"], "test": ["B32", "SW83"]})
  s = pipeline.open_split("watkins", "test", data_root=str(tmp_path),
                          cache_dir=str(tmp_path / "cache"))
  assert s.info.class_names == ("B32", "SW83")
  w = _warning(s, "labels_merged")
  assert "spellings 'B32' x2, 'B32 ' x1, 'b32' x1 were merged into class 'B32'" in w["message"]
  assert _ids(s) == ["wav/test0.wav", "wav/test1.wav"] and s.labels.tolist() == [0, 1]
  train = pipeline.open_split("watkins", "train", data_root=str(tmp_path),
                              cache_dir=str(tmp_path / "cache"))
  assert train.labels.tolist() == [0, 0]  # "b32" is class B32 in the builder too
  exact = pipeline.open_split("watkins", "train", data_root=str(tmp_path),
                              cache_dir=str(tmp_path / "cache"),
                              rules=rules.InputRules(labels="exact"))
  assert exact.info.class_names == ("B32", "SW83", "b32") and exact.labels.tolist() == [0, 2]


# ---- errors name the right thing -----------------------------------------------------------


def test_broken_link_in_csv_named_as_such_with_its_line(tmp_path):
  table = _csv_of(tmp_path, [(0, "a"), (1, "b")])
  os.symlink(str(tmp_path / "moved" / "x.wav"), tmp_path / "w" / "x.wav")
  with open(table, "a") as f:
    f.write("w/x.wav,a\n")
  with pytest.raises(annotations.TableError) as e:
    _open(table)
  assert _one_line(e).startswith(f"{table}:4: {tmp_path / 'w' / 'x.wav'} is a broken symbolic "
                                 f"link (to {tmp_path / 'moved' / 'x.wav'})")
  with pytest.raises(audio_io.AudioError, match="is a broken symbolic link"):
    audio_io.read_audio(str(tmp_path / "w" / "x.wav"))


def test_missing_rows_skipped_and_listed_with_skip_bad_audio(tmp_path):
  table = _csv_of(tmp_path, [(0, "a"), (1, "b")])
  with open(table, "a") as f:
    f.write("w/gone.wav,a\n")
  s = _open(table, skip_bad_audio=True)
  assert "line 4: " in _warning(s, "missing_rows")["message"]
  assert _ids(s) == ["w/0.wav", "w/1.wav"]


def test_missing_file_in_jsonl_named_with_its_line(tmp_path):
  folder = tmp_path / "det"
  _wav(str(folder / "a.wav"), seconds=2.0)
  with open(folder / "test.jsonl", "w") as f:
    for rel in ("a.wav", "gone.wav"):
      f.write(json.dumps({"path": rel, "annotations": [{"st": 0.1, "ed": 0.9, "label": "x"}]})
              + "\n")
  with pytest.raises(annotations.TableError) as e:
    _open(folder)
  assert _one_line(e).startswith(f"{folder / 'test.jsonl'}:2: {folder / 'gone.wav'} does not "
                                 "exist. Fix: correct the path")


def test_windows_backslash_paths_read_with_a_warning(tmp_path):
  for i in range(2):
    _wav(str(tmp_path / "w" / f"{i}.wav"), seed=i)
  _write_csv(str(tmp_path / "t.csv"), [["path", "label"], ["w\\0.wav", "a"], ["w\\1.wav", "b"]])
  s = _open(tmp_path / "t.csv")
  assert "2 rows give Windows paths (backslashes), read with forward slashes: lines 2, 3" in (
      _warning(s, "windows_paths")["message"])
  assert _ids(s) == ["w/0.wav", "w/1.wav"]


def test_windows_path_to_nothing_names_the_csv_line(tmp_path):
  _csv_of(tmp_path, [(0, "a")])
  _write_csv(str(tmp_path / "t.csv"), [["path", "label"], ["w\\0.wav", "a"],
                                       ["C:\\rec\\9.wav", "b"]])
  with pytest.raises(annotations.TableError) as e:
    _open(tmp_path / "t.csv")
  assert _one_line(e).startswith(f"{tmp_path / 't.csv'}:3: ")
  assert "a Windows path: write it with forward slashes /" in str(e.value)


def test_name_with_a_newline_refused_before_any_work(tmp_path):
  _label_folder(tmp_path / "ds", n=1)
  _wav(str(tmp_path / "ds" / "a" / "song\nline.wav"), seed=9)
  with pytest.raises(ValueError) as e:
    _open(tmp_path / "ds")
  assert _one_line(e).startswith(repr(str(tmp_path / "ds" / "a" / "song\nline.wav")))
  assert "control character" in str(e.value) and "rename it" in str(e.value)
  assert not os.path.exists(tmp_path / "cache" / "own_data")  # refused before any work


def test_csv_path_with_a_control_character_refused_naming_the_line(tmp_path):
  table = _csv_of(tmp_path, [(0, "a")])
  with open(table, "a") as f:
    f.write('"w/bell\x07.wav",b\n')
  with pytest.raises(ValueError) as e:
    _open(table)
  assert _one_line(e).startswith(f"{table}:3: 'w/bell\\x07.wav': the name holds a control")


def _read_only_dir(tmp_path) -> str:
  """A folder this process cannot write to: chmod, or (as root, which chmod does not stop) a
  path under /sys, where even root cannot create folders."""
  folder = tmp_path / "ro"
  folder.mkdir()
  folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
  if os.access(folder, os.W_OK):
    return "/sys/bioacoustics_jax_test/workdir"
  return str(folder / "workdir")


def test_read_only_workdir_stops_in_the_first_second_with_the_fix(tmp_path):
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  from experiments.configs import own_data as own_data_config  # pylint: disable=g-import-not-at-top
  workdir = _read_only_dir(tmp_path)
  config = own_data_config.get_config(f"root={tmp_path / 'ds'},smoke=true")
  start = time.perf_counter()
  with option_syntax.command_line({"root", "smoke"}):
    with pytest.raises(config_checks.ConfigError) as e:
      experiment.run_experiment(config, workdir)
  assert time.perf_counter() - start < 1.0
  text = _one_line(e)
  assert text.startswith(f"--workdir={workdir}: cannot write there (")
  assert "Fix: pass --workdir= a folder you can write to" in text
  assert "--config.data.cache_dir=/writable/folder" in text
  with pytest.raises(config_checks.ConfigError, match=r"^data.cache_dir=.*Fix: set cache_dir="):
    config_checks.check_writable(str(tmp_path / "w"), workdir)


def test_unknown_beans_dataset_lists_the_root_and_suggests_the_nearest(tmp_path):
  from experiments.configs import beans_paper  # pylint: disable=g-import-not-at-top
  _beans_watkins(tmp_path, {s: ["a", "b"] for s in ("train", "valid", "test")})
  (tmp_path / "notes").mkdir()
  with pytest.raises(FileNotFoundError) as e:
    beans_paper.get_config(f"root={tmp_path},datasets=watkns")
  text = _one_line(e)
  assert f"Found under {tmp_path}: watkins, notes. Did you mean 'watkins' for 'watkns'?" in text
  assert "300 GB" not in text  # a typo is not told to download BEANS
  with pytest.raises(FileNotFoundError, match=r"/nope does not exist \(nearest existing folder: "):
    beans_paper.get_config(f"root={tmp_path / 'nope'},datasets=watkins")
  with pytest.raises(FileNotFoundError, match="Did you mean 'watkins' for 'watkin'"):
    pipeline.open_split("watkin", "test", data_root=str(tmp_path),
                        cache_dir=str(tmp_path / "cache"))


@pytest.mark.parametrize("keys, fix", [
    (None, "or set skip_bad_audio=True to skip it"),
    ({"root", "skip_bad_audio"}, "or set `:skip_bad_audio=true` in --config to skip it"),
    ({"root", "datasets"}, "or set --config.data.skip_bad_audio=true to skip it")])
def test_audio_error_fix_in_the_syntax_of_the_command(tmp_path, keys, fix):
  _label_folder(tmp_path / "ds", n=1)
  bad = str(tmp_path / "ds" / "a" / "bad.wav")
  h.write_bad(bad, "corrupt", 8000)
  with option_syntax.command_line(keys) if keys else contextlib.nullcontext():
    with pytest.raises(audio_io.AudioError) as e:
      _open(tmp_path / "ds")
  assert e.value.path == bad and str(e.value).endswith(f"Fix: re-download or regenerate it, {fix}")


@pytest.mark.parametrize("arg, message", [
    ("labels=exakt", "--config.data.labels='exakt' is not one of ['merge', 'exact']."),
    ("duplicates=drop", "--config.data.duplicates='drop' is not one of ['stop', 'keep']."),
    ("empty_labels=skip", "--config.data.empty_labels='skip' is not one of ['stop', 'drop'].")])
def test_input_rule_typos_stop_before_any_work(arg, message):
  from experiments.configs import own_data as own_data_config  # pylint: disable=g-import-not-at-top
  config = own_data_config.get_config(f"root=/data/birds,{arg}")
  with pytest.raises(config_checks.ConfigError) as e:
    config_checks.check(config)
  assert str(e.value) == message
