"""Loading PyTorch checkpoints safely and turning them into (Classifier) Flax variables."""

import flax
import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax.models import registry
from bioacoustics_jax.porting import load
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import torch_to_flax

TINY = {"width": 8}  # ResNet-18 layout with 8..64 channels and torchvision's 1000-way fc


class NotATensor:  # pickled by reference: only loadable by executing arbitrary code
  pass


@pytest.fixture(name="tiny_rn18")
def _tiny_rn18(tmp_path, monkeypatch):
  """A tiny 'pretrained' resnet18 checkpoint saved under rn18p's file name in a weights dir."""
  spec = registry.get("rn18p")
  torch_model = parity.randomize_norms(spec.torch_reference(**TINY), seed=3).eval()
  monkeypatch.setenv(load.WEIGHTS_ENV, str(tmp_path))
  torch.save(torch_model.state_dict(), tmp_path / spec.weights)
  return spec, torch_model


def test_load_state_dict_formats(tmp_path):
  sd = {"a.weight": torch.randn(3, 2), "a.bias": torch.zeros(3)}
  torch.save(sd, tmp_path / "plain.pth")
  torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "wrapped.pth")
  torch.save({k: v.bfloat16() for k, v in sd.items()}, tmp_path / "bf16.pth")
  from safetensors.torch import save_file  # pylint: disable=g-import-not-at-top
  save_file(sd, str(tmp_path / "w.safetensors"))
  for name in ("plain.pth", "wrapped.pth", "w.safetensors", "bf16.pth"):
    out = load.load_state_dict(tmp_path / name)
    assert set(out) == set(sd), name
    np.testing.assert_allclose(out["a.weight"], sd["a.weight"].numpy(),
                               rtol=1e-2 if name == "bf16.pth" else 0)


def test_unsafe_pickle_is_refused_not_executed(tmp_path):
  torch.save({"a": NotATensor()}, tmp_path / "evil.pth")
  with pytest.raises(load.UnsafeCheckpointError, match="weights_only=True"):
    load.load_state_dict(tmp_path / "evil.pth")


def test_not_a_state_dict_and_missing_file(tmp_path):
  torch.save([torch.zeros(2)], tmp_path / "list.pth")
  with pytest.raises(ValueError, match="does not hold a state_dict"):
    load.load_state_dict(tmp_path / "list.pth")
  with pytest.raises(FileNotFoundError, match="nope.pth"):
    load.load_state_dict(tmp_path / "nope.pth")


def test_missing_weights_error_names_file_url_and_folder(tmp_path, monkeypatch):
  monkeypatch.setenv(load.WEIGHTS_ENV, str(tmp_path / "w"))
  spec = registry.get("alex")
  with pytest.raises(load.MissingWeightsError) as err:
    load.pretrained_variables(spec, None, load.sample_input(spec))
  message = str(err.value)
  assert spec.weights in message and spec.weights_url in message and str(tmp_path / "w") in message


def test_weights_dir_default_and_override(monkeypatch, tmp_path):
  monkeypatch.delenv(load.WEIGHTS_ENV, raising=False)
  assert load.weights_dir().parts[-3:] == (".cache", "bioacoustics_jax", "weights")
  assert load.weights_dir(tmp_path) == tmp_path


def test_sample_inputs_follow_the_recipes():
  assert load.sample_input(registry.get("rn18")).shape[-1] == 3
  assert load.sample_input(registry.get("vggish")).shape == (1, 1, 96, 64, 1)


def test_init_variables_ports_pretrained_and_matches_torch(tiny_rn18):
  spec, torch_model = tiny_rn18
  x = np.random.default_rng(0).standard_normal((2, 48, 40, 3)).astype(np.float32)
  variables = load.init_variables(spec, x, rng=jax.random.PRNGKey(0), **TINY)
  logits, _ = jax.jit(spec.build(**TINY).apply)(variables, x)
  assert parity.max_abs_diff(logits, parity.torch_forward(torch_model, x)) <= 1e-4


def test_1000_class_checkpoint_into_10_class_classifier(tiny_rn18):
  """Backbone kept from the checkpoint (its 1000-way fc included), head fresh and 10-way."""
  spec, torch_model = tiny_rn18
  x = np.random.default_rng(1).standard_normal((2, 32, 32, 3)).astype(np.float32)
  variables = load.init_variables(spec, x, rng=jax.random.PRNGKey(0), num_classes=10, **TINY)
  assert set(variables["params"]) == {"backbone", "head"}
  assert variables["params"]["head"]["kernel"].shape == (1000, 10)
  assert variables["params"]["backbone"]["fc"]["kernel"].shape[-1] == 1000
  ported = load.pretrained_variables(spec, None, x, **TINY)
  for collection in ("params", "batch_stats"):
    a = flax.traverse_util.flatten_dict(variables[collection]["backbone"])
    b = flax.traverse_util.flatten_dict(ported[collection])
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
  from bioacoustics_jax.models import classifier  # pylint: disable=g-import-not-at-top
  model = classifier.Classifier(spec.build(**TINY), 10)
  logits, inter = jax.jit(model.apply)(variables, x)
  assert logits.shape == (2, 10)
  assert parity.max_abs_diff(inter["embedding"], parity.torch_forward(torch_model, x)) <= 1e-4


def test_random_init_specs_need_no_file(monkeypatch, tmp_path):
  monkeypatch.setenv(load.WEIGHTS_ENV, str(tmp_path))  # empty: nothing to find
  # AlexNet with a narrow classifier: few parameter leaves, so the RNG compiles quickly.
  spec = registry.get("alexnet")
  x = np.zeros((1, 64, 64, 3), np.float32)
  variables = load.init_variables(spec, x, rng=jax.random.PRNGKey(0), num_classes=4, hidden=16)
  assert variables["params"]["head"]["kernel"].shape == (1000, 4)
  assert np.std(variables["params"]["backbone"]["features_0"]["kernel"]) > 0
  with pytest.raises(ValueError, match="random-init"):
    load.pretrained_variables(spec, None, x, hidden=16)


def test_wrong_checkpoint_names_the_file_and_the_keys(tiny_rn18, tmp_path):
  spec, torch_model = tiny_rn18
  sd = torch_model.state_dict()
  sd.pop("layer1.0.conv1.weight")
  sd["extra.weight"] = torch.zeros(1)
  torch.save(sd, tmp_path / "broken.pth")
  with pytest.raises(torch_to_flax.PortingError) as err:
    load.port_file(spec, tmp_path / "broken.pth", np.zeros((1, 32, 32, 3), np.float32), **TINY)
  message = str(err.value)
  assert "broken.pth" in message and "layer1.0.conv1.weight" in message
  assert "extra.weight" in message
