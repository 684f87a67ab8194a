"""The filesystem layer keeps URIs URIs: a gs:// (here tf.io.gfile's in-memory ram://, standing
for a bucket) workdir is written through tf.io.gfile and never becomes a local `gs:`/`ram:`
folder: run.json, the shared-workdir check, and a whole frozen quickstart run go through it."""

import os

import ml_collections
import pytest

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


@pytest.mark.slow  # a whole run, twice: ~100 s on 2 busy cores
def test_quickstart_smoke_frozen_in_an_in_memory_bucket(tmp_path, monkeypatch):
  """The whole frozen quickstart (smoke) with its workdir at a URI: results.csv, embeddings,
  cell keys, views, figures, report.md/html and run.json land in the in-memory filesystem, a
  second run loads the cell from there, and no local `ram:`/`gs:` folder appears. The raw
  audio and the tfds cache stay local here: tfds reaches buckets through etils.epath, which
  knows gs:// but not ram://."""
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.results import store as results  # pylint: disable=g-import-not-at-top
  from tests.smoke import smoke_config  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  workdir = "ram://bucket/quickstart"
  config = smoke_config(**{"data.root": str(tmp_path / "data"),
                           "data.cache_dir": str(tmp_path / "cache")})
  results_csv = experiment.run_experiment(config, workdir)
  assert results_csv == f"{workdir}/results.csv"
  rows = results.read_results(results_csv)
  assert [(r["dataset"], r["regime"], r["reducer"]) for r in rows] == [
      ("synth_bats", "frozen", "pca")]
  (npz,) = paths.glob(f"{workdir}/embeddings/synth_bats/rn18/frozen-*.npz")
  es = EmbeddingSet.load(npz)
  assert len(es.ids) == rows[0]["n"] and es.embeddings.shape[0] == rows[0]["n"]
  assert paths.glob(f"{workdir}/embeddings/synth_bats/rn18/frozen-*.json")  # the cell key
  assert paths.glob(f"{workdir}/views/**/*.npz") and paths.glob(f"{workdir}/figures/*.png")
  assert paths.glob(f"{workdir}/projections/*.npz")
  assert "synth_bats" in paths.read_text(f"{workdir}/report.md")
  assert "<html" in paths.read_text(f"{workdir}/report.html")
  (run_json,) = paths.glob(f"{workdir}/runs/*/run.json")
  assert '"status": "ok"' in paths.read_text(run_json)
  # Run again: the cell is loaded from the bucket, its row replaced, not duplicated.
  experiment.run_experiment(config, workdir)
  again = results.read_results(results_csv)
  assert len(again) == 1 and again[0]["nmi"] == rows[0]["nmi"]
  assert sorted(os.listdir(tmp_path)) == ["cache", "data"]  # no `ram:` folder
  assert not os.path.exists("gs:") and not os.path.exists("ram:")


def test_what_must_stay_local_is_refused_with_the_fix(tmp_path, monkeypatch):
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  from tests.smoke import smoke_config  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  # The raw audio (and the synthetic suite, written as wav files) must be local or mounted.
  with pytest.raises(ValueError, match=r"data.root \(default <workdir>/data\)='gs://bucket/"
                     r"run/data'.*gcsfuse"):
    experiment.run_experiment(smoke_config(), "gs://bucket/run")
  with pytest.raises(ValueError, match="data.root='gs://bucket/data'.*gcsfuse"):
    experiment.run_experiment(smoke_config(**{"data.root": "gs://bucket/data"}), str(tmp_path / "w"))
  assert not os.path.exists(tmp_path / "gs:")


def test_writers_reach_an_in_memory_bucket(tmp_path, monkeypatch):
  """results.csv (append = replace by key), embedding sets, npz, text and glob on ram://."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.results import store as results  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  root = "ram://writers"
  row = {c: 0 for c in results.RESULT_COLUMNS if c not in results.OPTIONAL_COLUMNS}
  row.update(dataset="d", model="m", regime="frozen", split="test", reducer="pca",
             clusterer="kmeans", cell_key="k", eval_key="e", nmi=0.25, note="a, \"quoted\" note")
  csv_path = f"{root}/w/results.csv"
  results.append_rows(csv_path, [row])
  results.append_rows(csv_path, [dict(row, nmi=0.5)])  # same key: replaced, not duplicated
  results.append_rows(csv_path, [dict(row, reducer="none")])
  got = results.read_results(csv_path)
  assert [(r["reducer"], r["nmi"]) for r in got] == [("pca", 0.5), ("none", 0.25)]
  assert got[0]["note"] == 'a, "quoted" note'
  es = EmbeddingSet(embeddings=np.arange(6, dtype=np.float32).reshape(3, 2),
                    labels=np.array([0, 1, 0]), ids=["a", "b", "c"], label_names=["x", "y"],
                    meta={"n": 3})
  es.save(f"{root}/w/embeddings/d/m/frozen.npz")
  back = EmbeddingSet.load(f"{root}/w/embeddings/d/m/frozen.npz")
  np.testing.assert_array_equal(back.embeddings, es.embeddings)
  assert back.ids == es.ids and back.meta == {"n": 3}
  assert paths.glob(f"{root}/w/**/*.npz") == [f"{root}/w/embeddings/d/m/frozen.npz"]
  assert paths.glob(f"{root}/w/*.csv") == [csv_path]
  assert not [p for p in paths.walk_files(root) if ".tmp" in p]  # temporaries renamed away
  assert os.listdir(tmp_path) == []
