"""results.csv: round trip, replacement on resume, strict columns."""

import math

import pytest

from bioacoustics_jax.results import store as results


def make_row(dataset="watkins", model="alex", regime="finetuned", reducer="umap",
             clusterer="kmeans", nmi=0.5, **overrides):
  row = dict(dataset=dataset, model=model, regime=regime, split="test", reducer=reducer,
             clusterer=clusterer, ari=0.25, nmi=nmi, ami=0.4, silhouette=math.nan,
             accuracy=0.6, n=100, n_classes=4, n_clusters=4, embedding_dim=1000,
             seconds=1.5, skipped_files=0, status="ok", note="", embed_batch_size=32,
             umap_n_neighbors=50, umap_min_dist=0.5, pca_dim=2, tsne_perplexity=25.0,
             hdbscan_min_cluster_size=10, eval_seed=42, cell_key="c0ffee", eval_key="e0",
             run_id="run0")
  row.update(overrides)
  return row


def test_round_trip_keeps_types_and_nan(tmp_path):
  path = str(tmp_path / "sub" / "results.csv")
  rows = [make_row(), make_row(clusterer="hdbscan", nmi=0.123456789012345)]
  results.append_rows(path, rows)
  back = results.read_results(path)
  assert len(back) == 2
  assert back[1]["nmi"] == 0.123456789012345  # exact float round trip
  assert math.isnan(back[0]["silhouette"])
  assert back[0]["n"] == 100 and isinstance(back[0]["n"], int)
  assert list(back[0]) == list(results.RESULT_COLUMNS)


def test_rerunning_a_cell_replaces_its_rows(tmp_path):
  path = str(tmp_path / "results.csv")
  results.append_rows(path, [make_row(), make_row(clusterer="hdbscan")])
  results.append_rows(path, [make_row(model="rn18")])
  results.append_rows(path, [make_row(nmi=0.9), make_row(clusterer="hdbscan", nmi=0.8)])
  back = results.read_results(path)
  assert len(back) == 3
  by_key = {(r["model"], r["clusterer"]): r["nmi"] for r in back}
  assert by_key == {("rn18", "kmeans"): 0.5, ("alex", "kmeans"): 0.9,
                    ("alex", "hdbscan"): 0.8}


def test_missing_file_reads_empty(tmp_path):
  assert results.read_results(str(tmp_path / "none.csv")) == []


def test_bad_rows_and_files_fail_clearly(tmp_path):
  path = str(tmp_path / "results.csv")
  row = make_row()
  del row["ami"]
  with pytest.raises(ValueError, match=r"missing \['ami'\]"):
    results.append_rows(path, [row])
  with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
    results.append_rows(path, [make_row(extra=1)])
  with pytest.raises(ValueError, match="repeat a key"):
    results.append_rows(path, [make_row(), make_row()])
  (tmp_path / "old.csv").write_text("dataset,model\nx,y\n")
  with pytest.raises(ValueError, match="old.csv has columns"):
    results.read_results(str(tmp_path / "old.csv"))


def _append_many(path, worker, count):
  for i in range(count):
    results.append_rows(path, [make_row(model=f"m{worker}", clusterer=f"c{i}")])


def test_concurrent_writers_lose_no_rows(tmp_path):
  """3 processes x 40 appends to one results.csv: all 120 rows survive (the file lock)."""
  import multiprocessing  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / "results.csv")
  context = multiprocessing.get_context("spawn")
  workers = [context.Process(target=_append_many, args=(path, w, 40)) for w in range(3)]
  for w in workers:
    w.start()
  for w in workers:
    w.join(timeout=300)
    assert w.exitcode == 0
  rows = results.read_results(path)
  assert len(rows) == 120 and len({results.row_key(r) for r in rows}) == 120


def test_rows_of_different_settings_coexist(tmp_path):
  path = str(tmp_path / "results.csv")
  results.append_rows(path, [make_row(umap_min_dist=0.0, eval_key="a")])
  results.append_rows(path, [make_row(umap_min_dist=0.99, eval_key="b")])
  assert sorted(r["umap_min_dist"] for r in results.read_results(path)) == [0.0, 0.99]
