"""ViT-B/16: Flax vs torchvision parity (tiny by default, full vit_b_16 slow), fused-qkv porter."""

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"vit_b_16"})  # read by tests/zoo/test_presets.py

TINY = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
            num_classes=10)


def _ported(overrides, x, seed=0):
  spec = zoo.get_preset("vit_b_16")
  # Noise on every parameter: torchvision starts the class token and biases at 0.
  torch_model = perturb.perturb_parameters(spec.torch_reference(**overrides), seed).eval()
  module = spec.build(**overrides)
  return torch_model, module, parity.port_reference(spec, torch_model, module, x)


def _check(overrides, x):
  torch_model, module, variables = _ported(overrides, x)
  logits, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert parity.max_relative_diff(inter["embedding"], expected) <= 1e-5
  assert parity.max_relative_diff(logits, expected) <= 1e-5
  return torch_model, variables, inter


def test_tiny_parity():
  x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
  _, _, inter = _check(TINY, x)
  assert inter["pre_logits"].shape == (2, 16)


def test_porter_splits_qkv_and_names_bad_tensors():
  x = np.zeros((1, 32, 32, 3), np.float32)
  spec = zoo.get_preset("vit_b_16")
  module = spec.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  sd = torch_to_flax.to_numpy_state_dict(spec.torch_reference(**TINY))
  ported = spec.port(sd, target)
  w = sd["encoder.layers.encoder_layer_1.self_attention.in_proj_weight"]
  np.testing.assert_array_equal(
      ported["params"]["encoder"]["encoder_layer_1"]["self_attention"]["v_proj"]["kernel"],
      w[32:].T)
  key = "encoder.layers.encoder_layer_0.self_attention.in_proj_weight"
  with pytest.raises(torch_to_flax.PortingError, match=key):
    spec.port(dict(sd, **{key: np.zeros((47, 16), np.float32)}), target)
  # A checkpoint for another image size: the position table does not fit.
  with pytest.raises(torch_to_flax.PortingError, match="encoder/pos_embedding"):
    spec.port(dict(sd, **{"encoder.pos_embedding": np.zeros((1, 5, 16), np.float32)}), target)
  del sd["heads.head.bias"]
  with pytest.raises(torch_to_flax.PortingError, match="heads.head.bias"):
    spec.port(sd, target)


def test_wrong_input_size_names_the_recipe():
  module = zoo.get_preset("vit_b_16").build(**TINY)
  with pytest.raises(ValueError, match="paper_mel3_224"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 128, 100, 3), np.float32))


def test_recipe_feeds_the_full_size_input():
  backbone = zoo.resolve("vit_b_16")
  assert backbone.sample_input(22050, 22050 * 3).shape == (1, 224, 224, 3)


@pytest.mark.slow
def test_full_vit_b_16_parity():
  x = np.random.default_rng(0).uniform(0, 1, (2, 224, 224, 3)).astype(np.float32)
  torch_model, variables, inter = _check({}, x)
  n = sum(np.size(v) for v in jax.tree.leaves(variables["params"]))
  assert n == sum(p.numel() for p in torch_model.parameters()) == 86_567_656  # torchvision meta
  assert inter["embedding"].shape == (2, 1000) and inter["pre_logits"].shape == (2, 768)


@pytest.mark.slow  # about 22 s on 2 cores
def test_bfloat16_compute_is_close_and_trains():
  x = np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
  diff, scale, m16, variables = parity.bfloat16_deviation(zoo.get_preset("vit_b_16"), x, **TINY)
  assert diff <= 0.02 * max(scale, 1.0)
  assert parity.gradients_are_finite(m16, variables, x)
