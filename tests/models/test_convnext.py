"""ConvNeXt-T: Flax vs torchvision parity (tiny by default, full convnext_tiny slow), porter."""

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"convnext_tiny"})  # read by tests/zoo/test_presets.py

# Four stages, downsampling and the classifier norm, as in convnext_tiny, with few channels.
TINY = dict(dims=(8, 16, 24, 32), depths=(1, 2, 1, 1), num_classes=10)


def _ported(overrides, x, seed=0):
  spec = zoo.get_preset("convnext_tiny")
  # Noise on every parameter: torchvision starts layer_scale at 1e-6 and biases at 0, which
  # would hide a wrong mapping of the whole residual branch.
  torch_model = perturb.perturb_parameters(spec.torch_reference(**overrides), seed).eval()
  module = spec.build(**overrides)
  return torch_model, module, parity.port_reference(spec, torch_model, module, x)


@pytest.mark.parametrize("hw", [(128, 100), (70, 45)])
def test_tiny_parity_non_square(hw):
  # 70x45: odd maps at every downsampling (torch floors, so do we).
  x = np.random.default_rng(0).uniform(0, 1, (2,) + hw + (3,)).astype(np.float32)
  torch_model, module, variables = _ported(TINY, x)
  logits, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert parity.max_relative_diff(inter["embedding"], expected) <= 1e-5
  assert parity.max_relative_diff(logits, expected) <= 1e-5
  assert inter["pre_logits"].shape == (2, 32)


def test_porter_names_missing_and_misshaped_tensors():
  x = np.zeros((1, 64, 64, 3), np.float32)
  spec = zoo.get_preset("convnext_tiny")
  module = spec.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  sd = torch_to_flax.to_numpy_state_dict(spec.torch_reference(**TINY))
  bad = dict(sd, **{"features.1.0.layer_scale": np.ones((8,), np.float32)})
  with pytest.raises(torch_to_flax.PortingError, match="features.1.0.layer_scale"):
    spec.port(bad, target)
  del sd["features.6.1.weight"]
  with pytest.raises(torch_to_flax.PortingError, match="features.6.1.weight"):
    spec.port(sd, target)


def test_stochastic_depth_only_in_training():
  module = zoo.get_preset("convnext_tiny").build(dims=(8,), depths=(2,), num_classes=4,
                                                 stochastic_depth_prob=0.5)
  x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
  variables = jax.jit(module.init)(jax.random.PRNGKey(0), x)
  variables = jax.tree.map(lambda v: v + 0.1, variables)  # layer_scale 1e-6 would hide drops
  evaluate = jax.jit(lambda v: module.apply(v, x)[0])
  np.testing.assert_array_equal(evaluate(variables), evaluate(variables))
  train = jax.jit(lambda v, k: module.apply(v, x, train=True, rngs={"dropout": k})[0])
  assert not np.allclose(train(variables, jax.random.PRNGKey(0)),
                         train(variables, jax.random.PRNGKey(1)))


@pytest.mark.slow
def test_full_convnext_tiny_parity():
  x = np.random.default_rng(0).uniform(0, 1, (2, 128, 160, 3)).astype(np.float32)
  torch_model, module, variables = _ported({}, x)
  n = sum(np.size(v) for v in jax.tree.leaves(variables["params"]))
  assert n == sum(p.numel() for p in torch_model.parameters()) == 28_589_128  # torchvision meta
  _, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert inter["embedding"].shape == (2, 1000) and inter["pre_logits"].shape == (2, 768)
  assert parity.max_relative_diff(inter["embedding"], expected) <= 1e-5


@pytest.mark.slow  # about 28 s on 2 cores
def test_bfloat16_compute_is_close_and_trains():
  # Training clones the backbone with dtype=bfloat16 on accelerators (train/finetune.py).
  x = np.random.default_rng(0).uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
  small = dict(dims=(8, 16), depths=(1, 1), num_classes=4)
  diff, scale, m16, variables = parity.bfloat16_deviation(zoo.get_preset("convnext_tiny"), x,
                                                          **small)
  assert diff <= 0.02 * max(scale, 1.0)
  assert parity.gradients_are_finite(m16, variables, x)
