"""A saved view holds the scored clusters (re-run clusters reproduce the rows) and loads back."""

import numpy as np
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.report.html import views


def test_save_cell_keeps_scored_clusters_and_intervals(tmp_path):
  x, y = make_blobs(120, n_features=6, centers=4, random_state=1)
  es = EmbeddingSet(x, y, [f"wav/{i}.wav" for i in range(120)], list("abcd"),
                    meta=dict(skipped=["bad.wav"]))
  evaluator = ClusteringEvaluator(reducers=("pca", "none"), clusterers=("kmeans", "hdbscan"),
                                  log=None)
  evaluation = evaluator.evaluate(es)
  rows = [dict(r, dataset="d", model="torch:rn18", regime="frozen", split="test")
          for r in evaluation.rows]
  path = views.save_cell(str(tmp_path), es, evaluation, evaluator, rows)
  assert path == views.cell_path(str(tmp_path), "d", "torch:rn18", "frozen")
  (view,) = views.load_all(str(tmp_path))
  assert view.model == "torch:rn18" and view.ids == es.ids and view.skipped == ["bad.wav"]
  assert set(view.projections) == {"pca"} and view.projections["pca"].shape == (120, 2)
  # Only 2-D reductions are re-clustered; their clusters give exactly the rows' cluster counts.
  assert set(view.predicted) == {("pca", "kmeans"), ("pca", "hdbscan")}
  for row in rows[:2]:
    assert len(np.unique(view.predicted[(row["reducer"], row["clusterer"])])) == row["n_clusters"]
    low, high = view.intervals[f"{row['reducer']}+{row['clusterer']}"]["nmi"]
    assert low <= row["nmi"] <= high
