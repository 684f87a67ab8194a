"""The filesystem layer keeps URIs URIs: a gs:// (here tf.io.gfile's in-memory ram://, standing
for a bucket) workdir is written through tf.io.gfile and never becomes a local `gs:`/`ram:`
folder; run.json and the shared-workdir check go through it."""

import os

import ml_collections

from bioacoustics_jax import paths
from bioacoustics_jax import provenance
from bioacoustics_jax.parallel import distributed


def test_uris_stay_uris_and_local_paths_become_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert paths.absolute("gs://bucket/run/") == "gs://bucket/run"
  assert paths.join("gs://bucket/run", "results.csv") == "gs://bucket/run/results.csv"
  assert paths.absolute("runs/a") == str(tmp_path / "runs" / "a")
  assert paths.absolute("~/x") == os.path.expanduser("~/x")
  assert os.listdir(tmp_path) == []


def test_run_record_and_files_in_an_in_memory_bucket(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  workdir = "ram://bucket/experiment"
  config = ml_collections.ConfigDict({"seed": 3})
  record = provenance.start_run(workdir, config, argv=["launch.run"])
  record.add_cell(dataset="d", model="m", regime="frozen", status="ok")
  record.finish("ok")
  assert record.path == f"{workdir}/runs/{record.run_id}/run.json"
  text = paths.read_text(record.path)
  assert '"status": "ok"' in text and '"seed": 3' in text
  assert paths.listdir(paths.join(workdir, "runs")) == [record.run_id]
  paths.write_text(paths.join(workdir, "a", "b.txt"), "hello")
  assert paths.exists("ram://bucket/experiment/a/b.txt")
  assert paths.read_text("ram://bucket/experiment/a/b.txt") == "hello"
  distributed.check_setup(config.to_json(), workdir)  # one process: nothing to compare
  # Nothing local: no `ram:` (or `gs:`) folder under the working directory.
  assert os.listdir(tmp_path) == []


def test_shipped_commit_file_stands_in_for_git(tmp_path):
  (tmp_path / "pkg").mkdir()
  (tmp_path / provenance.COMMIT_FILE).write_text("0123abcd dirty\n")
  assert provenance.git_state(str(tmp_path / "pkg")) == {"commit": "0123abcd", "dirty": True}


def test_a_uri_workdir_is_refused_with_the_fix_not_made_a_local_folder(tmp_path, monkeypatch):
  import pytest  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  from tests.smoke import smoke_config  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  with pytest.raises(ValueError, match="--workdir='gs://bucket/run'.*gcsfuse"):
    experiment.run_experiment(smoke_config(), "gs://bucket/run")
  with pytest.raises(ValueError, match="data.root='gs://bucket/data'"):
    experiment.run_experiment(smoke_config(**{"data.root": "gs://bucket/data"}), str(tmp_path / "w"))
  assert not os.path.exists(tmp_path / "gs:")
