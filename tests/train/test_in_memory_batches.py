"""Small training splits are shuffled in memory: same rows every epoch, an order that is a
function of (seed, epoch), padded last batch, exactly `steps` batches."""

from __future__ import annotations

import dataclasses

import numpy as np

from bioacoustics_jax.train import finetune
from tests.train import tiny


@dataclasses.dataclass
class _Info:
  def num_samples(self, rate):
    del rate
    return 64


class _Split:
  """What _in_memory_batches reads of a pipeline.SplitData: count, info, numpy_batches."""

  info = _Info()

  def __init__(self, n):
    self.data = tiny.dataset(n)
    self.data["id"] = np.array([f"clip{i}".encode() for i in range(n)])
    self.n = n

  def count(self, drop_background=False):
    return self.n

  def numpy_batches(self, batch_size, sample_rate, drop_background=False, process_index=None,
                    process_count=None):
    assert (process_index, process_count) == (0, 1), "every host holds the whole split"
    for i in range(0, self.n, batch_size):  # eval-style: the last batch padded
      out = {}
      for k, v in self.data.items():
        chunk = np.zeros((batch_size,) + v.shape[1:], v.dtype)
        part = v[i:i + batch_size]
        chunk[:len(part)] = part
        out[k] = chunk
      out["mask"][len(self.data["mask"][i:i + batch_size]):] = False
      yield out


def test_in_memory_epochs():
  split = _Split(22)
  config = tiny.small_config(seed=3)
  batches = finetune._in_memory_batches(split, 8, 0, 3, config)
  epoch0, again, epoch1 = (list(batches(e)) for e in (0, 0, 1))
  assert len(epoch0) == 3 and all(b["audio"].shape == (8, 64) for b in epoch0)
  for a, b in zip(epoch0, again):  # a function of the epoch
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
  ids = lambda epoch: [i for b in epoch for i, m in zip(b["id"], b["mask"]) if m]  # noqa: E731
  assert sorted(ids(epoch0)) == sorted(ids(epoch1)) == sorted(split.data["id"].tolist())
  assert ids(epoch0) != ids(epoch1)
  assert epoch0[-1]["mask"].sum() == 22 - 16 and not epoch0[-1]["audio"][6:].any()
  # Rows keep their labels.
  by_id = dict(zip(split.data["id"].tolist(), split.data["label"].tolist()))
  for b in epoch1:
    for i, label, m in zip(b["id"], b["label"], b["mask"]):
      assert not m or by_id[i] == label


def test_large_split_stays_on_the_pipeline(monkeypatch):
  monkeypatch.setattr(finetune, "IN_MEMORY_BYTES", 100)
  assert finetune._in_memory_batches(_Split(22), 8, 0, 3, tiny.small_config()) is None


def test_each_process_feeds_its_slice_of_the_one_process_batches(monkeypatch):
  """2 hosts x 4 rows per step see exactly the global batches of 1 host x 8 rows."""
  import jax  # pylint: disable=g-import-not-at-top
  split, config = _Split(22), tiny.small_config(seed=3)
  whole = list(finetune._in_memory_batches(split, 8, 0, 3, config)(1))
  monkeypatch.setattr(jax, "process_count", lambda: 2)
  parts = []
  for p in range(2):
    monkeypatch.setattr(jax, "process_index", lambda p=p: p)
    parts.append(list(finetune._in_memory_batches(split, 4, 0, 3, config)(1)))
  assert len(parts[0]) == len(parts[1]) == len(whole) == 3
  for step, want in enumerate(whole):
    for k in want:
      np.testing.assert_array_equal(
          np.concatenate([parts[0][step][k], parts[1][step][k]]), want[k])
