"""report.html from a workdir on disk: self-contained, every section, and it works in Chromium."""

import json
import os
import subprocess
import sys

import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from tests.report import browser_check
from tests.report import html_tables
from bioacoustics_jax.report.html import document as html
from bioacoustics_jax.results import store as results
from bioacoustics_jax.report.html import views

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _cell(workdir, dataset, regime, n, names, shift, skipped=()):
  x, y = make_blobs(n, n_features=6, centers=len(names), cluster_std=1.0 + shift, random_state=3)
  ids = [f"wav/test/clip_{i:04d}.wav@{i % 3}.000" for i in range(n)]
  es = EmbeddingSet(x, y, ids, names, meta=dict(skipped=list(skipped)))
  evaluator = ClusteringEvaluator(reducers=("pca", "none"), clusterers=("kmeans", "hdbscan"),
                                  log=None)
  evaluation = evaluator.evaluate(es)
  rows = [dict(r, dataset=dataset, model="rn18", regime=regime, split="test",
               skipped_files=len(skipped), embed_batch_size=32, cell_key=f"{dataset}-{regime}",
               run_id="r") for r in evaluation.rows]
  results.append_rows(os.path.join(workdir, "results.csv"), rows)
  views.save_cell(workdir, es, evaluation, evaluator, rows)


def _train_logs(workdir):
  base = os.path.join(workdir, "train", "birds", "rn18")
  for lr in ("0.001", "0.0001"):
    os.makedirs(os.path.join(base, f"lr_{lr}"))
    with open(os.path.join(base, f"lr_{lr}", "metrics.jsonl"), "w") as f:
      for epoch in range(3):
        f.write(json.dumps({"kind": "train", "step": 4 * epoch + 2, "loss": 2.0 - epoch * 0.3})
                + "\n")
        f.write(json.dumps({"kind": "valid", "step": 4 * epoch + 4, "epoch": epoch,
                            "accuracy": 0.2 + 0.1 * epoch, "loss": 1.9 - 0.2 * epoch}) + "\n")
  with open(os.path.join(base, "sweep.json"), "w") as f:
    json.dump({"model": "rn18", "dataset": "birds", "selected_learning_rate": 0.001, "runs": [
        {"learning_rate": 0.001, "metric": "accuracy", "best": 0.4, "best_epoch": 2},
        {"learning_rate": 0.0001, "metric": "accuracy", "best": 0.3, "best_epoch": 2}]}, f)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("report_html"))
  for regime, shift in (("frozen", 2.0), ("finetuned", 0.0)):
    _cell(workdir, "birds", regime, 300, ["a", "b", "c", "d"], shift, skipped=["wav/bad.wav"])
  _cell(workdir, "frogs_detection", "frozen", 90, ["background", "croak", "trill"], 1.0)
  _train_logs(workdir)
  os.makedirs(os.path.join(workdir, "runs", "20261201-0900"))
  with open(os.path.join(workdir, "runs", "20261201-0900", "run.json"), "w") as f:
    json.dump({"status": "finished", "command": "python -m launch.run --config=x.py",
               "commit": "b324e48", "dirty": False, "devices": ["cpu:0"],
               "versions": {"jax": "0.10.2"}, "config": {"seed": 42}, "start": "09:00",
               "end": "09:01"}, f)
  return workdir


def test_page_is_self_contained_with_every_section(workdir):
  path = html.write_html(workdir, max_points=200)
  page = open(path).read()
  assert path == os.path.join(workdir, "report.html")
  assert "<script src" not in page and "http://" not in page and "https://" not in page
  for anchor in ("overview", "scores", "deltas", "paper", "scatters", "curves", "provenance",
                 "skipped"):
    assert f'id="{anchor}"' in page
  assert "birds (N=300)" in page and "k (classes)" in page and 'class="ci"' in page
  assert "PCA of the test split, 200 of 300 points shown" in page  # subsampled, and says so
  assert "b324e48" in page and "finished" in page and "wav/bad.wav" in page
  assert "selected lr 0.001, best epoch 2" in page
  assert page.count('class="scatter"') == 3 * 3  # 3 cells x (labels + kmeans + hdbscan)
  assert os.path.getsize(path) < 1_500_000
  # Every interval holds its estimate, every score shows its seed spread, nothing coloured or
  # highlighted without a detected difference (tests/report/html_tables.py).
  assert html_tables.problems(html_tables.score_cells(page)) == []


def test_no_provenance_says_so(tmp_path):
  _cell(str(tmp_path), "birds", "frozen", 40, ["a", "b"], 0.0)
  page = open(html.write_html(str(tmp_path))).read()
  assert "No provenance recorded" in page and "No fine-tuning in this run" in page
  assert "No cell ran both regimes" in page


def test_rebuild_offline_from_the_command_line(workdir):
  if os.path.exists(os.path.join(workdir, "report.html")):
    os.remove(os.path.join(workdir, "report.html"))
  done = subprocess.run([sys.executable, "-m", "bioacoustics_jax.report", f"--workdir={workdir}"],
                        cwd=ROOT, capture_output=True, text=True, timeout=180)
  assert done.returncode == 0, done.stderr[-2000:]
  assert os.path.exists(os.path.join(workdir, "report.md"))
  assert os.path.exists(os.path.join(workdir, "report.html"))


def test_report_renders_in_chromium(workdir, tmp_path, chromium):  # pylint: disable=unused-argument
  path = html.write_html(workdir, max_points=200)
  shot = str(tmp_path / "report.png")
  found = browser_check.check(path, screenshot=shot)
  assert browser_check.problems(found) == []
  assert found["hover"]["scatters"] == 9
  assert found["tables"]["scores-table"]["rows"] == 3 * 4
  assert os.path.getsize(shot) > 50_000  # a blank page compresses to a few kB


def test_sweep_page_tags_rows_and_scatters_with_their_trial(tmp_path):
  for trial in ("000_min_dist=0.1", "001_min_dist=0.5"):
    _cell(str(tmp_path / "runs" / trial), "birds", "frozen", 60, ["a", "b", "c"], 0.5)
  page = open(html.write_html(str(tmp_path))).read()
  assert "a sweep of 2 trials" in page and "<th class=\"t\">trial</th>" in page
  assert page.count("<summary>") == 2 and "001_min_dist=0.5" in page
  assert page.count('class="scatter"') == 2 * 3
