"""Independent workers without Ray: the shares archive.share gives, embedded by embed_part as
writers 0 and 1 and counted by record_run, are the store a one-process run writes; a worker
writes no manifest, and a retried worker redoes nothing its earlier try committed."""

import json
import os

import numpy as np

from bioacoustics_jax.soundscape import archive
from bioacoustics_jax.soundscape import planted
from bioacoustics_jax.soundscape import store as store_lib
from tests.soundscape.helpers import tiny_config


def test_two_workers_shares_equal_the_one_process_store(tmp_path):
  root = tmp_path / "audio"
  planted.write_archive(str(root), recordings=4, seconds=3.0, calls_per_recording=1)
  config = tiny_config(root, model="mfcc", overrides={}, sample_rate=16000)
  want = archive.embed_archive(config, str(tmp_path / "one")).load_arrays()

  workdir = str(tmp_path / "parts")
  job = archive.Job.from_config(config)  # what the Ray driver does before starting the tasks
  store_lib.Store.open(workdir, job.settings, create=True, writer=True)
  shares = archive.share(job.recordings, 2)
  manifest = open(os.path.join(workdir, "manifest.json")).read()
  done = [archive.embed_part(config, workdir, [r.name for r in s], i)
          for i, s in enumerate(shares)]
  assert done == [[r.name for r in s] for s in shares] and all(done)
  assert open(os.path.join(workdir, "manifest.json")).read() == manifest  # workers never write it
  # a retried worker (Ray re-runs a task whose process died) finds its share committed
  assert archive.embed_part(config, workdir, done[0], 0) == []

  store = archive.record_run(workdir, job.settings, config, sorted(sum(done, [])), 0.0)
  got = store.load_arrays()
  for column in ("recording", "start", "end", "label"):
    np.testing.assert_array_equal(got[column], want[column])
  # the same rows, batched differently (a share per worker): float32 rounding only
  np.testing.assert_allclose(got["embedding"], want["embedding"], rtol=1e-5, atol=1e-6)
  writers = {name.rsplit("-p", 1)[1] for name in store.manifest["shards"]}
  assert writers == {"0000.npz", "0001.npz"}
  assert json.load(open(os.path.join(workdir, "manifest.json")))["runs"][-1]["added"] == \
      [f"rec{i:03d}.wav" for i in range(4)]
