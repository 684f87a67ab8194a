"""data/pipeline.py: batch shapes, padding + mask, resampling, background filter, sharding."""

import os

import numpy as np
import pytest

from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import pipeline


def _batches(split, **kw):
  kw.setdefault("process_index", 0)
  kw.setdefault("process_count", 1)
  return list(split.numpy_batches(**kw))


def _ids(batches):
  return [i.decode() for b in batches for i, m in zip(b["id"], b["mask"]) if m]


def test_classification_batches_padded_and_masked(tiny_root):
  s = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  bs = _batches(s, batch_size=5)
  assert len(bs) == s.num_batches(5, process_count=1) == 5  # 24 examples
  for b in bs:
    assert b["audio"].shape == (5, 22050) and b["audio"].dtype == np.float32
    assert b["label"].shape == (5,) and b["label"].dtype == np.int32
    assert b["mask"].dtype == bool and b["id"].shape == (5,)
  last = bs[-1]
  np.testing.assert_array_equal(last["mask"], [True] * 4 + [False])
  assert not last["audio"][4].any() and last["id"][4] == b"" and last["label"][4] == 0
  assert sum(int(b["mask"].sum()) for b in bs) == 24
  assert len(set(_ids(bs))) == 24
  assert np.abs(bs[0]["audio"]).max() <= 1.0


def test_resampling_to_model_rate(tiny_root):
  s = pipeline.open_split("synth_bats", "test", data_root=tiny_root)
  b = _batches(s, batch_size=8, sample_rate=16000)[0]
  n = round(s.info.clip_seconds * 16000)
  assert b["audio"].shape == (8, n) == (8, 2400)
  path = os.path.join(tiny_root, "synth_bats", b["id"][0].decode())
  expected, _ = audio_io.load_audio(path, target_sample_rate=16000)
  np.testing.assert_allclose(b["audio"][0], audio_io.fit_length(expected, n), atol=1e-4)


def test_detection_labels_and_drop_background(tiny_root):
  s = pipeline.open_split("synth_frogs_detection", "train", data_root=tiny_root)
  bs = _batches(s, batch_size=4)
  assert bs[0]["label"].shape == (4, 3) and bs[0]["label"].dtype == np.float32
  assert bs[0]["audio"].shape == (4, 32000)
  labels = np.concatenate([b["label"][b["mask"]] for b in bs])
  n_fg = int(np.any(labels > 0, axis=1).sum())
  assert s.count(drop_background=True) == n_fg < s.num_examples
  fg = _batches(s, batch_size=4, drop_background=True)
  fg_labels = np.concatenate([b["label"][b["mask"]] for b in fg])
  assert len(fg_labels) == n_fg and np.all(np.any(fg_labels > 0, axis=1))


def test_two_processes_partition_the_examples(tiny_root):
  s = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  parts = [_batches(s, batch_size=5, process_index=i, process_count=2) for i in range(2)]
  ids = [set(_ids(p)) for p in parts]
  assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 24
  assert len(parts[0]) == len(parts[1])  # equal steps: no host waits on another
  # Uneven split (3 processes, 24 examples of batch 5): still equal batch counts.
  counts = [len(_batches(s, batch_size=5, process_index=i, process_count=3)) for i in range(3)]
  assert counts == [2, 2, 2]


def test_train_shuffle_is_seeded(tiny_root):
  s = pipeline.open_split("synth_birds", "train", data_root=tiny_root)

  def first_epoch(seed):
    ds = s.dataset(batch_size=4, train=True, seed=seed, process_index=0, process_count=1)
    return _ids(list(ds.as_numpy_iterator()))

  assert first_epoch(0) == first_epoch(0)
  assert first_epoch(0) != first_epoch(1)
  assert sorted(first_epoch(0)) == sorted(_ids(_batches(s, batch_size=4)))


def test_bad_arguments(tiny_root):
  s = pipeline.open_split("synth_birds", "valid", data_root=tiny_root)
  with pytest.raises(ValueError, match="batch_size"):
    s.dataset(batch_size=0)
  with pytest.raises(ValueError, match="process_index"):
    s.dataset(batch_size=2, process_index=2, process_count=2)


def test_default_process_is_jax(tiny_root):
  s = pipeline.open_split("synth_birds", "valid", data_root=tiny_root)
  bs = list(s.numpy_batches(batch_size=3))
  assert sum(int(b["mask"].sum()) for b in bs) == s.num_examples  # one process in tests


def test_pipelines_run_without_tf_data_autotuning(tiny_root):
  # Deleting an autotuned iterator waited for its optimisation thread (1.5-3.9 s in 3 of 5
  # extractions of 1,000 clips): every split and training epoch paid it. Off, in every mode.
  s = pipeline.open_split("synth_birds", "train", data_root=tiny_root)
  for train in (False, True):
    assert s.dataset(batch_size=4, train=train).options().autotune.enabled is False
