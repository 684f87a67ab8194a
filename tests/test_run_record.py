"""Provenance and validation: run.json says what ran; bad values fail before any data work;
a failing cell still leaves a report of the cells that finished."""

import json
import os
import subprocess

import pytest

from bioacoustics_jax import config_checks
from bioacoustics_jax import experiment
from bioacoustics_jax import provenance
from bioacoustics_jax.cells import jax_cell
from bioacoustics_jax.porting import load
from tests.smoke import smoke_config


_config = smoke_config


def test_run_json_holds_commit_versions_devices_and_config(tmp_path):
  workdir = str(tmp_path)
  experiment.run_experiment(_config(), workdir, argv=["launch.run", "--config=x"])
  (run,) = os.listdir(os.path.join(workdir, "runs"))
  record = json.load(open(os.path.join(workdir, "runs", run, "run.json")))
  assert record["status"] == "ok" and record["run_id"] == run and record["end"]
  here = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                        cwd=os.path.dirname(__file__), check=False).stdout.strip()
  assert record["commit"] == (here or None) and record["dirty"] in (True, False, None)
  assert record["versions"]["jax"] and record["versions"]["python"]
  assert record["devices"]["backend"] == "cpu" and record["devices"]["device_count"] >= 1
  assert record["config"]["models"] == ["rn18"] and record["command"] == "launch.run --config=x"
  assert [c["status"] for c in record["cells"]] == ["ok"] and record["cells"][0]["cell_key"]
  report = open(os.path.join(workdir, "report.md")).read()
  assert f"run `{run}`" in report


@pytest.mark.parametrize("changes,message", [
    ({"train.parallel": "pmpa"}, r"--config\.train\.parallel='pmpa' is not one of"),
    ({"train.num_epochs": 0}, r"--config\.train\.num_epochs=0 must be >= 1"),
    ({"train.learning_rates": (1e-3, 0.0)}, r"every learning rate must be > 0"),
    ({"train.batch_size": 0}, r"--config\.train\.batch_size=0 must be > 0"),
    ({"embed.batch_size": -1}, r"--config\.embed\.batch_size=-1 must be > 0"),
    ({"regimes": ("frozen", "thawed")}, r"--config\.regimes has unknown value\(s\) \['thawed'\]"),
    ({"evaluate.reducers": ("umpa",)}, r"evaluate\.reducers has unknown value\(s\) \['umpa'\]"),
    ({"evaluate.clusterers": ("kmean",)}, r"evaluate\.clusterers has unknown"),
    ({"data.synthetic_size": "huge"}, r"--config\.data\.synthetic_size='huge' is not one of"),
])
def test_bad_values_fail_before_any_data_is_prepared(tmp_path, changes, message):
  config = _config("smoke=true,datasets=synth_bats,regimes=frozen+finetuned", **changes)
  with pytest.raises(config_checks.ConfigError, match=message) as err:
    experiment.run_experiment(config, str(tmp_path))
  assert len(str(err.value).splitlines()) == 1
  assert not os.listdir(tmp_path)  # nothing prepared, nothing written


def test_training_values_are_not_checked_for_frozen_only_runs():
  config_checks.check(_config(**{"train.num_epochs": 0}))


def test_missing_weights_fail_before_any_data_is_prepared(tmp_path):
  config = _config(models=("rn18", "rn50p", "vggish"), weights_dir=str(tmp_path / "w"))
  with pytest.raises(load.MissingWeightsError) as err:
    experiment.run_experiment(config, str(tmp_path / "run"))
  assert "resnet50-11ad3fa6.pth" in str(err.value) and "vggish-10086976.pth" in str(err.value)
  assert not os.path.exists(tmp_path / "run")


def test_a_failing_cell_leaves_the_report_of_finished_cells(tmp_path, monkeypatch):
  workdir = str(tmp_path)
  config = _config("smoke=true,datasets=synth_bats+synth_birds")
  original = jax_cell.embeddings
  def fail_on_birds(cell, cfg):
    if cell.dataset == "synth_birds":
      raise RuntimeError("disk full")
    return original(cell, cfg)
  monkeypatch.setattr(jax_cell, "embeddings", fail_on_birds)
  with pytest.raises(RuntimeError, match="disk full"):
    experiment.run_experiment(config, workdir)
  report = open(os.path.join(workdir, "report.md")).read()
  assert "synth_bats" in report and "## Failed cells" in report and "disk full" in report
  (run,) = os.listdir(os.path.join(workdir, "runs"))
  record = json.load(open(os.path.join(workdir, "runs", run, "run.json")))
  assert record["status"] == "failed" and record["error"]["message"] == "disk full"
  assert [c["status"] for c in record["cells"]] == ["ok", "failed"]


def test_run_ids_are_unique_and_sortable():
  ids = [provenance.new_run_id() for _ in range(50)]
  assert len(set(ids)) == 50 and all(len(i) == len(ids[0]) for i in ids)
