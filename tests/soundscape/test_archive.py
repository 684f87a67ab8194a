"""The archive job: every window once, resumable, grown folders, refused setting changes."""

import json
import os
import shutil

import numpy as np
import pytest

from bioacoustics_jax.soundscape import archive
from bioacoustics_jax.soundscape import planted
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import windows
from tests.soundscape.helpers import tiny_config


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
  root = tmp_path_factory.mktemp("archive")
  planted.write_archive(str(root), recordings=4, seconds=3.5, calls_per_recording=2)
  return root


def test_every_window_is_stored_once_with_its_times(audio, tmp_path):
  store = archive.embed_archive(tiny_config(audio), str(tmp_path / "w"))
  rows = store.load_arrays()
  # 3.5 s in 1 s windows: starts 0, 1, 2, 3 (the last padded), for each of 4 recordings
  assert rows["recording"].tolist() == [f"rec{r:03d}.wav" for r in range(4) for _ in range(4)]
  assert rows["start"].tolist() == [0.0, 1.0, 2.0, 3.0] * 4
  assert rows["end"].tolist() == [1.0, 2.0, 3.0, 3.5] * 4
  assert rows["embedding"].shape == (16, store.manifest["settings"]["backbone"]["module_kwargs"]
                                     .get("embedding_dim", rows["embedding"].shape[1]))
  assert np.isfinite(rows["embedding"]).all() and len(np.unique(rows["embedding"], axis=0)) == 16
  # readable without the package: the manifest lists the shards, numpy opens them
  manifest = json.load(open(tmp_path / "w" / "manifest.json"))
  assert sum(s["rows"] for s in manifest["shards"].values()) == 16
  assert manifest["settings"]["window_seconds"] == 1.0 and \
      manifest["settings"]["statistics"] == "per window"
  with np.load(tmp_path / "w" / "shards" / sorted(manifest["shards"])[0]) as shard:
    assert shard["embedding"].dtype == np.float32 and shard["recording"][0] == "rec000.wav"


def test_a_window_does_not_depend_on_its_batch(audio, tmp_path):
  """paper_mel3 divides by the batch maximum; here by each window's own, so batch size, resume
  and host count cannot change a stored row."""
  config = tiny_config(audio)
  a = archive.embed_archive(config, str(tmp_path / "a")).load_arrays()
  with config.unlocked():
    config.embed.batch_size = 16
  b = archive.embed_archive(config, str(tmp_path / "b")).load_arrays()
  np.testing.assert_allclose(a["embedding"], b["embedding"], rtol=1e-5, atol=1e-6)


def test_a_grown_folder_embeds_only_the_new_recordings(audio, tmp_path):
  root = tmp_path / "grow"
  shutil.copytree(audio, root)
  os.remove(root / "rec003.wav")
  work = str(tmp_path / "w")
  first = archive.embed_archive(tiny_config(root), work)
  shards_before = set(first.manifest["shards"])
  assert sorted(first.recordings) == ["rec000.wav", "rec001.wav", "rec002.wav"]
  shutil.copy(audio / "rec003.wav", root / "rec003.wav")
  second = archive.embed_archive(tiny_config(root), work)
  new = set(second.manifest["shards"]) - shards_before
  assert len(new) == 1 and second.manifest["shards"][new.pop()]["recordings"] == ["rec003.wav"]
  whole = archive.embed_archive(tiny_config(audio), str(tmp_path / "whole")).load_arrays()
  grown = second.load_arrays()
  assert grown["recording"].tolist() == whole["recording"].tolist()
  np.testing.assert_allclose(grown["embedding"], whole["embedding"], rtol=1e-5, atol=1e-6)


def test_resume_counts_shards_committed_after_the_last_manifest(audio, tmp_path):
  """The state a kill between a shard's rename and the manifest's leaves (plus a temp file):
  the resumed run embeds nothing again and loses nothing."""
  work = tmp_path / "w"
  store = archive.embed_archive(tiny_config(audio), str(work))
  expected = store.load_arrays()
  manifest = json.load(open(work / "manifest.json"))
  first = sorted(manifest["shards"])[0]  # the manifest as it was after the first shard
  manifest["recordings"] = {k: v for k, v in manifest["recordings"].items()
                            if v["shard"] == first}
  manifest["shards"] = {first: manifest["shards"][first]}
  assert len(manifest["recordings"]) < 4
  (work / "manifest.json").write_text(json.dumps(manifest))
  (work / "shards" / "123-p0000.npz.77.tmp").write_bytes(b"half a shard")
  (work / "manifest.json.77.tmp").write_text("{half a manif")
  shards = sorted(os.listdir(work / "shards"))
  resumed = archive.embed_archive(tiny_config(audio), str(work))
  assert sorted(os.listdir(work / "shards")) == [s for s in shards if not s.endswith(".tmp")]
  assert sorted(os.listdir(work)) == ["manifest.json", "shards"]
  assert len(resumed.recordings) == 4
  got = resumed.load_arrays()
  assert got["recording"].tolist() == expected["recording"].tolist()
  np.testing.assert_array_equal(got["embedding"], expected["embedding"])


def test_other_settings_or_a_changed_recording_are_refused_with_the_fix(audio, tmp_path):
  work = str(tmp_path / "w")
  archive.embed_archive(tiny_config(audio), work)
  with pytest.raises(store_lib.SettingsMismatch, match=r"hop_seconds: 1\.0 -> 0\.5.*new --workdir"):
    archive.embed_archive(tiny_config(audio, hop_seconds=0.5), work)
  with pytest.raises(store_lib.SettingsMismatch, match=r"backbone.overrides.width: 4 -> 8"):
    archive.embed_archive(tiny_config(audio, overrides={"width": 8}), work)
  root = tmp_path / "changed"
  shutil.copytree(audio, root)
  archive.embed_archive(tiny_config(root), str(tmp_path / "c"))
  planted.write_archive(str(root), recordings=1, seconds=2.0, seed=5)  # rec000.wav rewritten
  with pytest.raises(ValueError, match="rec000.wav changed after it was embedded"):
    archive.embed_archive(tiny_config(root), str(tmp_path / "c"))


def test_recordings_are_shared_by_length():
  recs = [windows.Recording(f"/{n}", n, 1000, s * 1000, 1, 0)
          for n, s in (("a", 10), ("b", 9), ("c", 2), ("d", 1), ("e", 1))]
  shares = archive.share(recs, 2)
  assert [[r.name for r in s] for s in shares] == [["a", "d", "e"], ["b", "c"]]
  assert archive.share(recs, 1)[0] == sorted(recs, key=lambda r: r.name)
