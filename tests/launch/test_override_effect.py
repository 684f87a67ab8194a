"""An override or swept field that the config's grid or smoke mode replaces is refused before any
work, naming what replaces it (launch/config_loader.check_effect, bioacoustics_jax/eval_settings);
the config can declare one harmless (a warning)."""

import logging
import pathlib
import textwrap

import pytest

from bioacoustics_jax import eval_settings
from launch import config_loader
from launch.sweeps import driver
from launch.sweeps import plan as plan_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
BEANS = str(ROOT / "experiments" / "configs" / "beans_paper.py")
QUICKSTART = str(ROOT / "experiments" / "configs" / "quickstart.py")


def test_the_paper_grid_replaces_the_reducers_and_umap_settings_of_evaluate():
  with pytest.raises(config_loader.ConfigLoadError,
                     match=r"--config\.evaluate\.reducers has no effect: every eval_grid entry "
                           r"sets its own reducers \(.*eval_grid\.umap50_05\.reducers=\('umap',\)"):
    config_loader.load(BEANS, {"evaluate.reducers": '("none",)'})
  with pytest.raises(config_loader.ConfigLoadError,
                     match=r"evaluate\.umap_min_dist has no effect.*the entries that run umap set "
                           r"their own umap_min_dist \(eval_grid\.umap100_05, eval_grid\.umap50_01, "
                           r"eval_grid\.umap50_05\)"):
    config_loader.load(BEANS, {"evaluate.umap_min_dist": "0.3"})
  # What the grid reads is accepted: a grid entry's own field, a field no entry sets.
  config = config_loader.load(BEANS, {"eval_grid.umap50_05.umap_min_dist": "0.3",
                                      "evaluate.seeds": "3"})
  assert config.eval_grid.umap50_05.umap_min_dist == 0.3


def test_smoke_mode_replaces_umap_with_pca():
  # beans_paper's smoke grid runs PCA where the paper runs UMAP.
  with pytest.raises(config_loader.ConfigLoadError,
                     match=r"eval_grid\.umap50_05\.umap_min_dist has no effect: umap_min_dist is "
                           r"read only by umap.*eval_grid\.umap50_05\.reducers=\('pca',\)"):
    config_loader.load(f"{BEANS}:smoke=true", {"eval_grid.umap50_05.umap_min_dist": "0.3"})
  # quickstart's smoke mode evaluates with PCA and no reduction only.
  with pytest.raises(config_loader.ConfigLoadError,
                     match=r"evaluate\.umap_min_dist has no effect.*"
                           r"evaluate\.reducers=\('pca', 'none'\)"):
    config_loader.load(f"{QUICKSTART}:smoke=true", {"evaluate.umap_min_dist": "0.1"})
  # Its docstring's example (the default mode runs UMAP).
  assert config_loader.load(QUICKSTART, {"evaluate.umap_min_dist": "0.1"})
  config = config_loader.load(f"{QUICKSTART}:smoke=true", {"evaluate.reducers": "('tsne',)",
                                                           "evaluate.tsne_perplexity": "5"})
  assert eval_settings.unused(config, "evaluate.tsne_perplexity") == ""


GRID_CONFIG = textwrap.dedent('''
    import ml_collections

    HARMLESS

    def get_config(arg=None):
      c = ml_collections.ConfigDict()
      c.evaluate = ml_collections.ConfigDict(dict(reducers=("pca",), clusterers=("kmeans",),
                                                  umap_min_dist=0.5, pca_dim=2, seed=1))
      c.eval_grid = ml_collections.ConfigDict(dict(
          a=dict(reducers=("pca",)), b=dict(reducers=("umap",), umap_min_dist=0.1)))
      return c.lock()

    def sweep(add, arg=None):
      for value in (0.1, 0.2):
        add({"evaluate.umap_min_dist": value})
    ''')


def _write(tmp_path, harmless=""):
  path = tmp_path / "grid_config.py"
  path.write_text(GRID_CONFIG.replace("HARMLESS", harmless))
  return str(path)


def test_a_sweep_whose_swept_field_has_no_effect_is_refused_in_a_dry_run(tmp_path):
  with pytest.raises(config_loader.ConfigLoadError,
                     match=r"sweep entry 0 .*: swept field evaluate\.umap_min_dist has no effect: "
                           r"umap_min_dist is read only by umap, which no evaluator that takes it "
                           r"runs \(eval_grid\.a\.reducers=\('pca',\)\); the entries that run "
                           r"umap set their own umap_min_dist \(eval_grid\.b\)"):
    driver.run_sweep(_write(tmp_path), str(tmp_path / "sweep"), dry_run=True)
  assert not (tmp_path / "sweep").exists()  # refused before anything is written


def test_a_config_can_declare_an_override_harmless(tmp_path, caplog):
  path = _write(tmp_path, 'HARMLESS_OVERRIDES = {"evaluate.umap_min_dist": "kept for symmetry"}')
  with caplog.at_level(logging.WARNING):
    plan = plan_lib.make_plan(path)
  assert [t.config.evaluate.umap_min_dist for t in plan.trials] == [0.1, 0.2]
  assert "swept field evaluate.umap_min_dist has no effect" in caplog.text
  assert "declares it harmless: kept for symmetry" in caplog.text


def test_the_smoke_sweep_of_the_paper_grid_is_the_smoke_grid():
  """beans_paper's sweep follows its arg: under smoke=true, the synthetic set x the smoke
  models (it used to sweep the real BEANS sets, which a smoke dry run cannot find)."""
  from experiments.configs import beans_paper  # pylint: disable=g-import-not-at-top
  runs = plan_lib.entries(beans_paper, "smoke=true")
  assert runs == [{"data.datasets": ("synth_frogs_detection",), "models": (m,)}
                  for m in beans_paper.SMOKE_MODELS]
  assert len(plan_lib.entries(beans_paper, "datasets=watkins+bats,models=rn18p")) == 2
