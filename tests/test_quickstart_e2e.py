"""End to end: the quickstart smoke config through launch.run (its console too), then a resumed
re-run."""

import csv
import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from bioacoustics_jax import experiment
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.report.html import score_tables
from bioacoustics_jax.results import store as results_lib
from experiments.configs import quickstart
from tests.report import html_tables

METRICS = ("ari", "nmi", "ami", "accuracy")


ARG = "smoke=true,regimes=frozen+finetuned,datasets=synth_birds+synth_frogs_detection"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def console_run(tmp_path_factory):
  """The real command, as a user types it: (workdir, the lines its console kept)."""
  workdir = str(tmp_path_factory.mktemp("quickstart"))
  # One classification and one detection set keep this under a minute on 2 cores.
  return workdir, _console(f":{ARG}", workdir)


def _console(args, workdir):
  """Runs launch.run with the quickstart config and `args`: the lines a terminal keeps (a
  progress bar redraws itself with "\r" on one line)."""
  done = subprocess.run(
      [sys.executable, "-m", "launch.run", f"--config=experiments/configs/quickstart.py{args}",
       f"--workdir={workdir}"], cwd=ROOT, capture_output=True, timeout=1800,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  text = (done.stderr + done.stdout).decode()
  assert done.returncode == 0, text[-3000:]
  return [line.rpartition("\r")[2] for line in text.split("\n")[:-1]]


@pytest.fixture(scope="module")
def finished_run(console_run):
  workdir, _ = console_run
  return quickstart.get_config(ARG), workdir, os.path.join(workdir, "results.csv")


def test_console_is_a_page_a_person_reads(console_run):
  """Per cell a start and an end line, the summary table, where the log went; the chatter of
  tfds, orbax, JAX and TF (and the config dump) only in log.txt."""
  workdir, console = console_run
  assert len(console) <= 40, "\n".join(console)
  ends = [line for line in console if re.search(r"\[\d/4\] done in \d+ s: best NMI", line)]
  assert len(ends) == 4 and len([l for l in console if re.match(r".*\[\d/4\] synth_", l)]) == 4
  header = next(i for i, line in enumerate(console) if line.startswith("dataset "))
  assert "NMI pca+km" in console[header] and len(console[header + 1:header + 5]) == 4
  assert console[-1].startswith("Log:") and "Traceback" not in "\n".join(console)
  log_path = console[-1].split()[-1]
  assert log_path.startswith(os.path.join(workdir, "runs")) and log_path.endswith("log.txt")
  log = open(log_path).read()
  for chatter in ("orbax", "Downloading and preparing dataset", "FeatureConnector",
                  "Constructing tf.data.Dataset"):
    assert chatter in log and chatter not in "\n".join(console), chatter
  assert "num_epochs" not in log  # the config is in run.json, not dumped into the log


def _embeddings(workdir, dataset, model, regime, split="test"):
  """The embedding set of a cell's `split` (file names carry the cell key; the probes also
  embed the train split through its own cell)."""
  folder = os.path.join(workdir, "embeddings", dataset, model)
  found = [os.path.join(folder, f) for f in sorted(os.listdir(folder))
           if f.startswith(regime + "-") and f.endswith(".npz")
           and EmbeddingSet.load(os.path.join(folder, f)).meta["split"] == split]
  (path,) = found
  return path


@pytest.mark.slow
def test_make_demo_fits_40_lines_and_ends_with_the_table(tmp_path):
  """`make demo`'s command on a fresh workdir (3 datasets, UMAP: about 100 s on 2 cores)."""
  console = _console("", str(tmp_path / "demo"))
  assert len(console) <= 40, "\n".join(console)
  header = next(i for i, line in enumerate(console) if line.startswith("dataset "))
  assert [line.split()[0] for line in console[header + 1:header + 4]] == [
      "synth_birds", "synth_bats", "synth_frogs_detection"]
  assert console[-1].startswith("Log:")
  _assert_readme_table_holds(str(tmp_path / "demo" / "results.csv"))


def _readme_demo_table():
  """(dataset, reducer+clusterer, mean, sd) of every cell of the README's demo NMI table."""
  readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
  header = re.search(r"^\| dataset \| (umap\+kmeans.*)\|$", readme, re.M)
  settings = [c.strip() for c in header.group(1).split("|") if c.strip()]
  table = re.findall(r"^\| (synth_\w+) \(.*?\) \| (.*)\|$", readme[header.end():], re.M)
  assert len(table) == 3, table
  return [(dataset, setting, *(float(v) for v in cell.split("±")))
          for dataset, cells in table for setting, cell in zip(settings, cells.split("|"))]


def _assert_readme_table_holds(results_csv):
  """The README's demo NMI table ("mean ± sd") against this demo's results.csv: each cell
  within twice the larger seed spread plus 0.01 (the demo's seeds are fixed, so only float
  differences between machines move it)."""
  got = {(r["dataset"], f"{r['reducer']}+{r['clusterer']}"): r
         for r in csv.DictReader(open(results_csv))}
  for dataset, setting, mean, sd in _readme_demo_table():
    row = got[(dataset, setting)]
    slack = 2 * max(sd, float(row["nmi_sd"])) + 0.01
    assert abs(float(row["nmi"]) - mean) <= slack, (dataset, setting, row["nmi"], mean, sd)


def test_readme_demo_table_reader_reads_every_cell(tmp_path):
  """The reader above, on a results.csv written from the README's own numbers, and on one
  that moves a cell beyond the slack: it must pass the first and fail the second."""
  rows = [dict(dataset=dataset, reducer=setting.split("+")[0], clusterer=setting.split("+")[1],
               nmi=mean, nmi_sd=sd) for dataset, setting, mean, sd in _readme_demo_table()]
  path = tmp_path / "results.csv"
  def write(rows):
    with open(path, "w", newline="") as f:
      w = csv.DictWriter(f, fieldnames=list(rows[0]))
      w.writeheader()
      w.writerows(rows)
  write(rows)
  _assert_readme_table_holds(str(path))
  write([dict(r, nmi=r["nmi"] + 0.5) if i == 0 else r for i, r in enumerate(rows)])
  with pytest.raises(AssertionError):
    _assert_readme_table_holds(str(path))


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


def test_report_html_states_only_what_the_paired_tests_found(finished_run):
  """The demo's report.html read back as a reader sees it (tests/report/html_tables.py): every
  interval holds its estimate, every NMI / ARI shows its seed spread, a delta is coloured
  exactly when its paired interval excludes 0, and a highlighted best is the one
  evaluate/paired.winner finds detected better than every other row of its dataset."""
  _, workdir, results_csv = finished_run
  cells = html_tables.score_cells(open(os.path.join(workdir, "report.html")).read())
  assert html_tables.problems(cells) == []
  tables = {c.table for c in cells}
  assert tables == set(html_tables.SCORE_TABLES)  # frozen + fine-tuned: deltas are there
  assert any(c.interval for c in cells if c.table == "scores-table")
  scores = [c for c in cells if html_tables.is_score(c) and np.isfinite(c.value)]
  assert scores and all(c.spread.startswith("± ") for c in scores)  # smoke: 2 seeds each
  rows = results_lib.read_results(results_csv)
  pair = score_tables.headline_pair(rows)  # the overview's reducer + clusterer
  rows = [r for r in rows if (r["reducer"], r["clusterer"]) == pair]
  for c in cells:
    if c.table != "overview-table":
      continue
    model, regime = c.keys
    dataset = c.column.split(" (N=")[0]
    column = [r for r in rows if r["dataset"] == dataset]
    best = paired.winner(column)
    is_best = best is not None and (best["model"], best["regime"]) == (model, regime)
    assert (c.css == "best") == is_best, c
