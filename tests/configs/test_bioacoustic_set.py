"""`:models=bioacoustic` in beans_paper.py and own_data.py: computed from the presets' flags."""

import pytest

from bioacoustics_jax.zoo import presets
from experiments.configs import beans_paper
from experiments.configs import own_data


def test_the_set_is_every_flagged_preset_with_weights():
  expected = tuple(p.name for p in presets.PRESETS if p.bioacoustic and p.weights)
  assert beans_paper.get_config("models=bioacoustic").models == expected
  assert own_data.get_config("models=bioacoustic").models == expected
  assert {"aves", "aves_all", "birdaves_biox_large", "biolingual"} <= set(expected)


def test_sets_combine_with_names_each_model_once():
  models = beans_paper.get_config("models=paper+bioacoustic").models
  assert models[:len(beans_paper.PAPER_MODELS)] == beans_paper.PAPER_MODELS
  assert models.count("aves") == 1 and "birdaves_biox_base" in models
  assert own_data.get_config("models=rn18p+bioacoustic").models[:2] == ("rn18p", "aves")
  assert own_data.get_config(None).models == ("rn18",)
  with pytest.raises(ValueError, match="empty"):
    own_data.get_config("models=")


def test_random_init_twins_are_computed():
  assert presets.random_init_twin("biolingual") == "clap_htsat_random"
  assert presets.random_init_twin("cnn14") == "cnn14_random"
  assert presets.random_init_twin("aves") is None  # no random-init HuBERT preset
  # Only twins of families the smoke grid already runs at its tiny widths join it.
  assert "biolingual" not in beans_paper.SMOKE_TWINS
  assert beans_paper.SMOKE_TWINS["convnext_base_birdset"] == "convnext_base_birdset_random"
  assert beans_paper.SMOKE_TWINS["perch2"] == "perch2_random"  # chirp's EfficientNet family
  assert set(beans_paper.get_config("smoke=true,models=bioacoustic").models) == {
      "convnext_base_birdset_random", "perch2_random", "perch1_random"}
  for model, twin in beans_paper.SMOKE_TWINS.items():
    assert presets.get_preset(twin).weights is None, model
