"""zoo.resolve -> Backbone: one object that knows a model's module, recipe, input rate and
starting variables (random, ported from a PyTorch file, or a ported orbax directory)."""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import load
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import torch_to_flax

TINY = {"width": 8}  # ResNet-18 layout with 8..64 channels and torchvision's 1000-way fc


@pytest.fixture(name="tiny_rn18")
def _tiny_rn18(tmp_path):
  """A tiny 'pretrained' resnet18 checkpoint saved under rn18p's file name in a weights dir."""
  backbone = zoo.resolve("rn18p", TINY, weights_dir=tmp_path)
  torch_model = parity.randomize_norms(backbone.torch_reference(), seed=3).eval()
  torch.save(torch_model.state_dict(), backbone.weights_path)
  return backbone, torch_model


def test_input_rate_is_decided_by_the_recipe_or_the_dataset():
  assert zoo.resolve("rn18").input_rate(44100) == 44100  # paper mel: the dataset's own rate
  assert zoo.resolve("vggish").input_rate(44100) == 16000
  assert zoo.resolve("aves").input_rate(250000) == 16000
  with pytest.raises(ValueError, match="dataset's own sample rate"):
    zoo.resolve("rn18").input_rate(None)


def test_sample_inputs_follow_the_recipes():
  assert zoo.resolve("rn18").sample_input().shape[-1] == 3
  assert zoo.resolve("vggish").sample_input().shape == (1, 1, 96, 64, 1)


def test_module_is_built_once_with_the_overrides():
  backbone = zoo.resolve("rn18", TINY)
  assert backbone.module is backbone.module and backbone.module.width == 8
  assert backbone.training_module(cross_replica_bn=True).bn_axis_name == "data"
  assert zoo.resolve("vggish").training_module(cross_replica_bn=True) is not None  # no BN: as is


def test_init_variables_ports_pretrained_and_matches_torch(tiny_rn18):
  backbone, torch_model = tiny_rn18
  x = np.random.default_rng(0).standard_normal((2, 48, 40, 3)).astype(np.float32)
  variables = backbone.init_variables(jax.random.key(0), x)
  logits, _ = jax.jit(backbone.module.apply)(variables, x)
  assert parity.max_abs_diff(logits, parity.torch_forward(torch_model, x)) <= 1e-4


def test_missing_weights_error_names_file_url_and_folder(tmp_path):
  backbone = zoo.resolve("alex", weights_dir=tmp_path / "w")
  for call in (backbone.check_weights, lambda: backbone.init_variables(jax.random.key(0))):
    with pytest.raises(load.MissingWeightsError) as err:
      call()
    message = str(err.value)
    assert backbone.preset.weights in message and backbone.preset.weights_url in message
    assert str(tmp_path / "w") in message


def test_random_init_needs_no_file_and_is_seeded(tmp_path):
  backbone = zoo.resolve("alexnet", {"hidden": 16}, weights_dir=tmp_path)  # empty folder
  backbone.check_weights()
  x = np.zeros((1, 64, 64, 3), np.float32)
  a, b = (backbone.init_variables(jax.random.key(s), x) for s in (0, 1))
  assert np.std(a["params"]["features_0"]["kernel"]) > 0
  assert not np.array_equal(a["params"]["features_0"]["kernel"], b["params"]["features_0"]["kernel"])


def test_wrong_checkpoint_names_the_file_and_the_keys(tiny_rn18, tmp_path):
  backbone, torch_model = tiny_rn18
  sd = torch_model.state_dict()
  sd.pop("layer1.0.conv1.weight")
  sd["extra.weight"] = torch.zeros(1)
  torch.save(sd, tmp_path / "broken.pth")
  with pytest.raises(torch_to_flax.PortingError) as err:
    backbone.port_file(tmp_path / "broken.pth", np.zeros((1, 32, 32, 3), np.float32))
  message = str(err.value)
  assert "broken.pth" in message and "layer1.0.conv1.weight" in message
  assert "extra.weight" in message


def test_a_run_names_every_missing_weights_file_before_any_data(tmp_path):
  import ml_collections  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import grid  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(dict(models=("rn18", "alex", "torch:vggish"),
                                          model_overrides={}, weights_dir=str(tmp_path)))
  with pytest.raises(load.MissingWeightsError) as err:
    grid.resolve_models(config)
  message = str(err.value)
  assert "alexnet-owt-7be5be79.pth" in message and "vggish-10086976.pth" in message
  assert not list(tmp_path.iterdir())  # nothing written
