"""beans_paper.py: the grid as config axes, the paper-mode switches, subsets, the sweep, and a
root missing some BEANS datasets (named at once; the rest run only when asked)."""

import json

import pytest

from experiments.configs import beans_paper
from launch import config_loader
from launch.sweeps import plan as plan_lib


def _beans_root(tmp_path, present):
  for name in present:
    spec = beans_paper.catalog.BEANS_ROSTER[name]
    for f in spec["files"].values():
      path = tmp_path / spec["folder"] / f
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_text("path,label\n" if f.endswith(".csv") else json.dumps({}) + "\n")
  return str(tmp_path)


def test_missing_datasets_are_named_and_the_rest_run_when_asked(tmp_path):
  root = _beans_root(tmp_path, ["watkins", "dcase"])
  with pytest.raises(FileNotFoundError) as e:
    beans_paper.get_config(f"root={root}")
  message = str(e.value)
  assert "lacks 8 of 10" in message and ":datasets=watkins+dcase" in message
  for name in ("bats", "cbi", "hainan-gibbons"):
    assert name in message
  assert "hainan_gibbons/train.jsonl" in message  # where the file was expected
  config = beans_paper.get_config(f"root={root},datasets=watkins+dcase")
  assert config.data.datasets == ("watkins", "dcase")
  with pytest.raises(FileNotFoundError, match="lacks 1 of 2 datasets: rfcx"):
    beans_paper.get_config(f"root={root},datasets=watkins+rfcx")


def test_paper_mode_switches_and_grid_axes():
  config = beans_paper.get_config(None)
  assert (config.data.class_order, config.data.window_rule, config.data.overlap_tolerance,
          config.aves_input_rate) == ("beans", "beans", 0.0, "dataset")
  own = beans_paper.get_config("paper_mode=false")
  assert (own.data.class_order, own.data.window_rule, own.data.overlap_tolerance,
          own.aves_input_rate) == ("sorted", "cover_tail", 1e-9, "16000")
  assert set(config.eval_grid) == set(beans_paper.GRID)  # ConfigDict iterates sorted
  assert config.eval_grid.tsne25.tsne_init == "random"
  assert config.eval_grid.tsne100.tsne_max_iter == 5000
  assert config.eval_grid.umap100_05.umap_n_neighbors == 100
  assert config.backgrounds == ("all", "fewer") and config.regimes == ("frozen", "finetuned")
  subset = beans_paper.get_config("grid=umap50_05+tsne25,backgrounds=all,models=rn18")
  assert set(subset.eval_grid) == {"umap50_05", "tsne25"} and subset.backgrounds == ("all",)
  with pytest.raises(ValueError, match="unknown setting.*umap50"):
    beans_paper.get_config("grid=umap50")


def test_sweep_covers_the_grid_one_run_per_dataset_and_model():
  runs = plan_lib.entries(beans_paper, None)
  assert len(runs) == len(beans_paper.BEANS_DATASETS) * len(beans_paper.PAPER_MODELS)
  pairs = {(r["data.datasets"], r["models"]) for r in runs}
  assert len(pairs) == len(runs)
  base = beans_paper.get_config(None)
  config = config_loader.apply(base, runs[0], where="run 0")
  # Each run keeps the whole reducer grid and both regimes / background settings.
  assert set(config.eval_grid) == set(base.eval_grid) and config.backgrounds == base.backgrounds


def test_one_evaluator_per_grid_setting_main_first():
  from bioacoustics_jax import grid  # pylint: disable=g-import-not-at-top
  evaluators = grid.make_evaluators(beans_paper.get_config(None))
  assert len(evaluators) == 5 and len({e.eval_key for e in evaluators}) == 5
  main = evaluators[0]  # probes, report.html and TensorBoard use the first
  assert main.reducers == ("umap",) and main.clusterers == ("kmeans",)
  assert (main.reduce_settings.umap_n_neighbors, main.reduce_settings.umap_min_dist) == (50, 0.5)
  tsne = [e for e in evaluators if e.reducers == ("tsne",)]
  assert sorted(e.reduce_settings.tsne_perplexity for e in tsne) == [25.0, 100.0]
  assert all(e.reduce_settings.tsne_init == "random" for e in tsne)


def test_model_sets_paper_and_extended():
  assert beans_paper.get_config(None).models == beans_paper.PAPER_MODELS
  extended = beans_paper.get_config("models=extended").models
  assert extended == beans_paper.EXTENDED_MODELS and "cnn14" in extended
  both = beans_paper.get_config("models=paper+extended+alex").models  # alex once
  assert both == beans_paper.PAPER_MODELS + beans_paper.EXTENDED_MODELS
  assert beans_paper.get_config("models=rn18+extended").models[:2] == ("rn18", "efficientnet_b1p")
  from bioacoustics_jax.zoo import presets  # pylint: disable=g-import-not-at-top
  for model in extended + beans_paper.SMOKE_MODELS + tuple(beans_paper.SMOKE_TWINS.values()):
    presets.get_preset(model)  # every name is a zoo preset


def test_smoke_models_are_random_init_twins_at_tiny_width():
  smoke = beans_paper.get_config("smoke=true")
  assert smoke.models == ("alexnet", "mfcc") and smoke.regimes == ("frozen", "finetuned")
  assert smoke.model_overrides.hidden == 16 and smoke.train.num_epochs == 1
  # The extended set keeps the members with a random-init twin (the speech models need their
  # checkpoints); a model named alone without one is an error.
  assert beans_paper.get_config("smoke=true,models=extended").models == (
      "efficientnet_b1", "efficientnet_b3", "convnext_tiny", "vit_b_16", "cnn14_random")
  assert beans_paper.get_config("smoke=true,models=alex+rn50p").models == ("alexnet", "rn50")
  with pytest.raises(ValueError, match="no random-init twin of 'aves'"):
    beans_paper.get_config("smoke=true,models=aves")
  from bioacoustics_jax.zoo import presets  # pylint: disable=g-import-not-at-top
  assert all(presets.get_preset(m).weights is None for m in beans_paper.SMOKE_TWINS.values())
