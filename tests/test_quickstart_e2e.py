"""End to end: the quickstart smoke config through launch.run's core, then a resumed re-run."""

import csv
import glob
import os
import re

import numpy as np
import pytest

from bioacoustics_jax import experiment
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.results import store as results_lib
from experiments.configs import quickstart

METRICS = ("ari", "nmi", "ami", "accuracy")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("quickstart"))
  # One classification and one detection set keep this under a minute on 2 cores.
  config = quickstart.get_config(
      "smoke=true,regimes=frozen+finetuned,datasets=synth_birds+synth_frogs_detection")
  return config, workdir, experiment.run_experiment(config, workdir)


def _embeddings(workdir, dataset, model, regime, split="test"):
  """The embedding set of a cell's `split` (file names carry the cell key; the probes also
  embed the train split through its own cell)."""
  folder = os.path.join(workdir, "embeddings", dataset, model)
  found = [os.path.join(folder, f) for f in sorted(os.listdir(folder))
           if f.startswith(regime + "-") and f.endswith(".npz")
           and EmbeddingSet.load(os.path.join(folder, f)).meta["split"] == split]
  (path,) = found
  return path


def test_results_csv_has_one_row_per_cell_with_sane_values(finished_run):
  config, workdir, results_csv = finished_run
  with open(results_csv, newline="") as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == list(results_lib.RESULT_COLUMNS)
    rows = list(reader)
  datasets = sorted(os.listdir(os.path.join(workdir, "embeddings")))
  assert datasets == ["synth_birds", "synth_frogs_detection"]
  cells = {(r["dataset"], r["model"], r["regime"], r["reducer"], r["clusterer"]) for r in rows}
  assert len(cells) == len(rows) == 2 * 1 * 2 * 2 * 2  # datasets x models x regimes x red. x clu.
  for row in rows:
    es = EmbeddingSet.load(_embeddings(workdir, row["dataset"], row["model"], row["regime"]))
    assert es.meta["cell_key"] == row["cell_key"] and row["run_id"]
    assert row["status"] in ("ok", "small")  # the smoke sets are tiny: flagged, still scored
    assert int(row["n"]) == len(es) > 0
    assert int(row["n_classes"]) == es.n_classes
    assert int(row["embedding_dim"]) == es.dim == 1000  # torchvision's fc output, as the paper
    for metric in METRICS:
      value = float(row[metric])
      assert -1.0 <= value <= 1.0, (metric, row)
    assert float(row["seconds"]) > 0 and row["skipped_files"] == "0"
  detection = [r for r in rows if r["dataset"] == "synth_frogs_detection"]
  es = EmbeddingSet.load(_embeddings(workdir, "synth_frogs_detection", "rn18", "frozen"))
  assert es.label_names[0] == "background" and 0 in es.labels  # background windows kept
  assert detection


def test_report_and_figures_are_written(finished_run):
  _, workdir, _ = finished_run
  report = open(os.path.join(workdir, "report.md")).read()
  assert "synth_birds" in report and "finetuned" in report and "NMI" in report
  figures = sorted(os.listdir(os.path.join(workdir, "figures")))
  assert len(figures) == 4 and all(f.endswith(".png") for f in figures)
  assert all(os.path.getsize(os.path.join(workdir, "figures", f)) > 5000 for f in figures)


def test_fine_tuning_changed_the_embeddings(finished_run):
  _, workdir, _ = finished_run
  frozen = EmbeddingSet.load(_embeddings(workdir, "synth_birds", "rn18", "frozen"))
  tuned = EmbeddingSet.load(_embeddings(workdir, "synth_birds", "rn18", "finetuned"))
  assert frozen.ids == tuned.ids
  assert not np.allclose(frozen.embeddings, tuned.embeddings)
  # One fine-tuning per training key, shared by the test- and train-split cells (probes).
  assert glob.glob(os.path.join(workdir, "train", "synth_birds", "rn18", "*", "metrics.jsonl"))


def test_rerun_resumes_without_duplicating_rows(finished_run):
  config, workdir, results_csv = finished_run
  before = open(results_csv).read().count("\n")
  path = _embeddings(workdir, "synth_birds", "rn18", "frozen")
  mtime = os.path.getmtime(path)
  experiment.run_experiment(config, workdir)
  assert open(results_csv).read().count("\n") == before
  assert os.path.getmtime(path) == mtime
  assert _embeddings(workdir, "synth_birds", "rn18", "frozen") == path


def test_rebuilt_report_equals_the_run_report(finished_run, monkeypatch):
  """`python -m bioacoustics_jax.report --workdir=W` (report/rebuild.py, from a relative path)
  writes what the run wrote; both hold every section a person needs."""
  from bioacoustics_jax.report import rebuild  # pylint: disable=g-import-not-at-top
  _, workdir, _ = finished_run
  names = ("report.md", "report.html")
  run = {n: open(os.path.join(workdir, n)).read() for n in names}
  md, page = run["report.md"], run["report.html"]
  for section in ("## Linear probe, kNN retrieval and few-shot", "## Data",
                  "## Fine-tuning: chosen learning rate and best epoch"):
    assert section in md, section
  # The one fine-tuned cell per dataset with the smoke grid's only learning rate.
  assert md.count("| finetuned | test | 0.001 | 0.001 | 0 |") == 2, md  # epochs count from 0
  assert 'id="probes"' in page and "kNN P@" in page and 'id="training"' in page
  assert "<dt>status</dt><dd><code>ok</code>" in page and "<dt>end</dt><dd><code>None" not in page
  assert "unfinished" not in page and "selected lr 0.001, best epoch 0" in page
  for n in names:
    os.remove(os.path.join(workdir, n))
  monkeypatch.chdir(os.path.dirname(workdir))
  rebuild.rebuild(os.path.basename(workdir))  # what the command line calls
  stamp = re.compile(r"Written \d{4}-\d\d-\d\d \d\d:\d\d UTC")
  for n in names:
    rebuilt = open(os.path.join(workdir, n)).read()
    assert stamp.sub("", rebuilt) == stamp.sub("", run[n]), n


def test_unknown_model_fails_before_any_work(tmp_path):
  config = quickstart.get_config("smoke=true,models=rn19")
  with pytest.raises(KeyError, match="Unknown model 'rn19'.*rn18"):
    experiment.run_experiment(config, str(tmp_path))
  assert not (tmp_path / "data").exists()


def test_report_html_renders_in_chromium(finished_run, chromium):  # pylint: disable=unused-argument
  """The demo's report.html in a real browser: no script errors, every figure, sorting, hover."""
  from tests.report import browser_check  # pylint: disable=g-import-not-at-top
  _, workdir, _ = finished_run
  found = browser_check.check(os.path.join(workdir, "report.html"))
  assert browser_check.problems(found) == []
  assert found["hover"]["scatters"] == 2 * 2 * 3  # datasets x regimes x (labels + 2 clusterings)


def test_tensorboard_has_eval_scalars_and_hparams(finished_run):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top,line-too-long
  _, workdir, _ = finished_run
  logdir = os.path.join(workdir, "tensorboard", "synth_birds", "rn18", "finetuned")
  acc = event_accumulator.EventAccumulator(logdir, size_guidance={"tensors": 0})
  acc.Reload()
  assert {"eval/pca+kmeans/nmi", "eval/none+hdbscan/ari"} <= set(acc.Tags()["tensors"])
  assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
