"""EfficientNet-B0/B1/B3 parity with torchvision: eval, train-mode BN, stochastic depth, presets."""

import flax
import jax
import numpy as np
import pytest

from bioacoustics_jax.models import efficientnet
from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"efficientnet_b0", "efficientnet_b1", "efficientnet_b3"})

TINY = {"width_mult": 0.25, "depth_mult": 0.34, "num_classes": 10}


def _inputs(size=64, batch=2, seed=0):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((2, batch, size, size, 3)).astype(np.float32)


@pytest.mark.parametrize("overrides", [TINY, {}])
def test_eval_parity(overrides):
  x, calib = _inputs()
  logits, inter, expected = parity.eval_outputs(
      zoo.get_preset("efficientnet_b0"), x, calibrate_on=calib, **overrides)
  assert parity.max_abs_diff(logits, expected) <= 1e-4
  assert parity.max_abs_diff(inter["embedding"], expected) <= 1e-4


def test_tiny_config_matches_torchvision_rounding():
  torch_model = zoo.get_preset("efficientnet_b0").torch_reference(**TINY)
  module = zoo.get_preset("efficientnet_b0").build(**TINY)
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), np.zeros((1, 32, 32, 3)))
  n_ours = sum(np.prod(s.shape) for s in jax.tree.leaves(shapes["params"]))
  assert n_ours == sum(p.numel() for p in torch_model.parameters())
  assert efficientnet.make_divisible(32 * 0.25) == 8 and efficientnet.make_divisible(16 * 0.1) == 8


def test_train_mode_parity_and_running_stats():
  """Batch-statistics forward == torch train() (dropout / stochastic depth switched off)."""
  spec = zoo.get_preset("efficientnet_b0")
  x, calib = _inputs(size=48, batch=4)
  torch_model, module, variables = parity.reference_and_port(spec, x, calibrate_on=calib, **TINY)
  module = module.clone(dropout=0.0, stochastic_depth_prob=0.0)
  for m in torch_model.modules():  # torch's Dropout / StochasticDepth off too
    if hasattr(m, "p"):
      m.p = 0.0
  (logits, _), updates = jax.jit(
      lambda v: module.apply(v, x, train=True, mutable=["batch_stats"]))(variables)
  expected = parity.torch_forward(torch_model, x, train=True)
  assert parity.max_abs_diff(logits, expected) <= 1e-4
  after = spec.port(parity.torch_to_flax.to_numpy_state_dict(torch_model),
                    jax.eval_shape(lambda: variables))
  ours = flax.traverse_util.flatten_dict(updates["batch_stats"])
  theirs = flax.traverse_util.flatten_dict(after["batch_stats"])
  for key in ours:
    np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=str(key))


def test_stochastic_depth_drops_residual_branches_only_in_training():
  module = zoo.get_preset("efficientnet_b0").build(**TINY, dropout=0.0, stochastic_depth_prob=0.9)
  x = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype(np.float32)
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  variables = jax.tree.map(lambda s: np.full(s.shape, 0.05, s.dtype), shapes)
  evaluate = jax.jit(lambda v: module.apply(v, x)[0])
  np.testing.assert_array_equal(evaluate(variables), evaluate(variables))  # eval: deterministic
  train = jax.jit(lambda v, key: module.apply(v, x, train=True, rngs={"dropout": key},
                                              mutable=["batch_stats"])[0][0])
  a, b = train(variables, jax.random.PRNGKey(0)), train(variables, jax.random.PRNGKey(1))
  assert not np.allclose(a, b)


def test_presets():
  spec = zoo.get_preset("efficientnet_b0p")
  assert spec.weights == "efficientnet_b0_rwightman-7f5810bc.pth"
  assert spec.weights_url.endswith(spec.weights) and spec.embedding_dim == 1000
  assert zoo.get_preset("efficientnet_b0").weights is None


# B1 / B3 at tiny widths: multipliers that exercise torchvision's rounding (32 * 0.3 = 9.6 -> 8
# channels; ceil(3 * 0.4) = 2 blocks) on the variant's own code path (its dropout, its preset).
TINY_SCALED = {"efficientnet_b1": {"width_mult": 0.25, "depth_mult": 0.4, "num_classes": 10},
               "efficientnet_b3": {"width_mult": 0.3, "depth_mult": 0.3, "num_classes": 10}}


@pytest.mark.parametrize("name", sorted(TINY_SCALED))
def test_b1_b3_tiny_parity(name):
  x, calib = _inputs(size=32)
  logits, inter, expected = parity.eval_outputs(zoo.get_preset(name), x, calibrate_on=calib,
                                                **TINY_SCALED[name])
  assert parity.max_relative_diff(inter["embedding"], expected) <= 1e-5
  assert parity.max_relative_diff(logits, expected) <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("name,num_params", [("efficientnet_b1", 7_794_184),
                                             ("efficientnet_b3", 12_233_232)])
def test_b1_b3_full_size_parity(name, num_params):
  x, calib = _inputs(size=96)
  spec = zoo.get_preset(name)
  torch_model, module, variables = parity.reference_and_port(spec, x, calibrate_on=calib)
  assert sum(p.numel() for p in torch_model.parameters()) == num_params  # torchvision's meta
  assert sum(np.size(v) for v in jax.tree.leaves(variables["params"])) == num_params
  _, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert parity.max_relative_diff(inter["embedding"], expected) <= 1e-5


def test_b1_b3_presets():
  for variant, file in (("b1", "efficientnet_b1_rwightman-bac287d4.pth"),
                        ("b3", "efficientnet_b3_rwightman-b3899882.pth")):
    spec = zoo.get_preset(f"efficientnet_{variant}p")
    assert spec.weights == file and spec.weights_url.endswith("/" + file) and spec.batch_norm
    assert zoo.get_preset(f"efficientnet_{variant}").weights is None
  assert zoo.get_preset("efficientnet_b3").build().dropout == 0.3
