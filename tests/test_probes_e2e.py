"""Probes through the experiment: the train split is embedded through its own cached cell,
probe rows land in probes.csv with the cell's identity, and report.md shows the probe table with
the handcrafted `mfcc` baseline beside a deep model."""

import pytest
import os

from bioacoustics_jax import experiment
from bioacoustics_jax.results import store as results_lib
from tests.smoke import smoke_config


@pytest.mark.slow  # about 220 s on 2 cores; the probes' rows are covered by tests/evaluate/test_probes.py
def test_probe_table_with_the_mfcc_baseline(tmp_path):
  workdir = str(tmp_path)
  config = smoke_config("smoke=true,datasets=synth_birds,models=rn18+mfcc,"
                        "regimes=frozen+finetuned,probes=linear_probe+knn")
  experiment.run_experiment(config, workdir)
  probes = results_lib._read_probe_text(os.path.join(workdir, "probes.csv"))  # pylint: disable=protected-access
  cells = {(r["model"], r["regime"]) for r in probes}
  assert cells == {("rn18", "frozen"), ("rn18", "finetuned"), ("mfcc", "frozen")}
  assert {r["task"] for r in probes} == {"linear_probe", "knn"}
  assert all(r["cell_key"] and r["run_id"] for r in probes)
  train_sets = [f for f in os.listdir(os.path.join(workdir, "embeddings", "synth_birds", "mfcc"))
                if f.endswith(".npz")]
  assert len(train_sets) == 2  # the test split's set and the train split's (for the probe)
  report = open(os.path.join(workdir, "report.md")).read()
  assert "## Linear probe, kNN retrieval and few-shot" in report
  assert "mfcc (handcrafted MFCC baseline)" in report
