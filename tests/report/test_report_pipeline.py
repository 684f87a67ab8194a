"""Evaluator rows + cell keys fill RESULT_COLUMNS exactly, and flow into report.md and a figure."""

import os

from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.report import figures
from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.results import store as results


def test_evaluation_to_report(tmp_path):
  x, y = make_blobs(90, n_features=8, centers=3, random_state=0)
  es = EmbeddingSet(x, y, [str(i) for i in range(90)], ["background", "a", "b"])
  evaluation = ClusteringEvaluator(reducers=("pca", "none"), clusterers=("kmeans", "ward"),
                                   log=None).evaluate(es)
  csv_path = str(tmp_path / "results.csv")
  for _ in range(2):  # a resumed run writes the same cell again
    rows = [dict(row, dataset="synth_birds", model="rn18", regime="frozen", split="test",
                 skipped_files=0, embed_batch_size=32, cell_key="k", run_id="r")
            for row in evaluation.rows]
    results.append_rows(csv_path, rows)
  assert len(results.read_results(csv_path)) == 4
  text = open(markdown.write_report(csv_path, str(tmp_path / "report.md"))).read()
  assert "| synth_birds | rn18 | frozen | test |" in text
  png = figures.scatter(evaluation.projections["pca"], es.labels, es.label_names, "blobs",
                        str(tmp_path / "figures" / "blobs.png"))
  assert os.path.getsize(png) > 10_000
