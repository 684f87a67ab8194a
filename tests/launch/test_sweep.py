"""Sweeps are data: expansion, validated overrides, worker sharding and the gathered table."""

import csv
import os
import textwrap

import pytest

from launch import sweep

CONFIG = textwrap.dedent('''
    """Test config: python -m launch.run --config=this.py"""
    import ml_collections

    def get_config(arg=None):
      c = ml_collections.ConfigDict()
      c.models = ("rn18",)
      c.evaluate = ml_collections.ConfigDict(dict(umap_min_dist=0.5, seed=42))
      return c.lock()

    def sweep(add):
      for min_dist in (0.1, 0.5):
        for models in (("rn18",), ("alex",)):
          add({"evaluate.umap_min_dist": min_dist}, models=models)
    ''')


@pytest.fixture
def config_path(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text(CONFIG)
  return str(path)


def _fake_run(config, run_dir):
  """Stands in for run_experiment: writes the results.csv a run would write."""
  os.makedirs(run_dir, exist_ok=True)
  with open(os.path.join(run_dir, "results.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["model", "min_dist"])
    w.writeheader()
    w.writerow({"model": config.models[0], "min_dist": config.evaluate.umap_min_dist})
  return run_dir


def test_expand_and_apply(config_path):
  module = sweep.load_config_module(config_path)
  runs = sweep.expand(module)
  assert len(runs) == 4 and runs[1] == {"evaluate.umap_min_dist": 0.1, "models": ("alex",)}
  config = sweep.apply_overrides(module.get_config(), runs[1])
  assert config.evaluate.umap_min_dist == 0.1 and config.models == ("alex",) and config.is_locked
  with pytest.raises(KeyError, match="umap_min_dits"):
    sweep.apply_overrides(module.get_config(), {"evaluate.umap_min_dits": 1})
  with pytest.raises(KeyError, match="evaluat"):
    sweep.apply_overrides(module.get_config(), {"evaluat.seed": 1})


def test_workers_split_runs_and_results_are_gathered(config_path, tmp_path):
  workdir = str(tmp_path / "sweep")
  dirs0 = sweep.run_sweep(config_path, workdir, _fake_run, worker=0, num_workers=2)
  dirs1 = sweep.run_sweep(config_path, workdir, _fake_run, worker=1, num_workers=2)
  assert len(dirs0) == len(dirs1) == 2 and not set(dirs0) & set(dirs1)
  with open(os.path.join(workdir, "sweep_results.csv")) as f:
    rows = list(csv.DictReader(f))
  assert sorted((r["model"], r["min_dist"]) for r in rows) == [
      ("alex", "0.1"), ("alex", "0.5"), ("rn18", "0.1"), ("rn18", "0.5")]
  assert rows[0]["run"].startswith("000_umap_min_dist=0.1")


def test_dry_run_executes_nothing(config_path, tmp_path):
  dirs = sweep.run_sweep(config_path, str(tmp_path / "s"), _fake_run, dry_run=True)
  assert len(dirs) == 4 and not (tmp_path / "s").exists()
