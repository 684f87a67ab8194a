"""The archive job as Ray tasks (a real local Ray, 2 workers, a share of the recordings each)
writes the store one process writes; a re-run over the same folder has nothing to do, a grown
folder adds only the new recording. Slow: Ray's start and each worker's JAX import and compile
cost tens of seconds here."""

import os

import numpy as np
import pytest

from bioacoustics_jax.soundscape import archive
from bioacoustics_jax.soundscape import planted
from launch import embed_ray
from launch.sweeps import engine
from tests.soundscape.helpers import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
  engine.start(num_cpus=2)
  yield
  engine.stop()


def _writers(store):
  return sorted({name.rsplit("-p", 1)[1] for name in store.manifest["shards"]})


def test_two_ray_workers_write_the_one_process_store(ray_local, tmp_path):
  del ray_local
  root = tmp_path / "audio"
  planted.write_archive(str(root), recordings=5, seconds=3.0, calls_per_recording=1)
  config = tiny_config(root, model="mfcc", overrides={}, sample_rate=16000)
  want = archive.embed_archive(config, str(tmp_path / "one")).load_arrays()

  workdir = str(tmp_path / "ray")
  store = embed_ray.embed_archive(config, workdir, workers=2)
  got = store.load_arrays()
  assert got["recording"].tolist() == want["recording"].tolist()  # every window once
  for column in ("start", "end", "label"):
    np.testing.assert_array_equal(got[column], want[column])
  # the same rows, batched differently (a share per worker): float32 rounding only
  np.testing.assert_allclose(got["embedding"], want["embedding"], rtol=1e-5, atol=1e-6)
  assert _writers(store) == ["0000.npz", "0001.npz"]  # both workers wrote their share
  assert store.manifest["runs"][-1]["added"] == [f"rec{i:03d}.wav" for i in range(5)]

  again = embed_ray.embed_archive(config, workdir, workers=2)  # nothing left: no task
  assert again.manifest["shards"] == store.manifest["shards"]
  assert again.manifest["runs"][-1]["added"] == []

  planted.write_archive(str(tmp_path / "more"), recordings=1, seconds=2.0, calls_per_recording=1)
  os.rename(tmp_path / "more" / "rec000.wav", root / "new.wav")
  grown = embed_ray.embed_archive(config, workdir, workers=2)
  assert grown.manifest["runs"][-1]["added"] == ["new.wav"]
  assert sorted(grown.recordings) == ["new.wav"] + [f"rec{i:03d}.wav" for i in range(5)]
  assert len(grown.manifest["shards"]) == len(store.manifest["shards"]) + 1
