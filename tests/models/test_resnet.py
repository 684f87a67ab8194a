"""ResNet parity with torchvision: eval logits/embedding, train-mode forward, running stats."""

import functools

import flax
import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"resnet18", "resnet50", "resnet152"})

TOL = 1e-4


def _setup(name, seed=0, size=64, batch=2, **overrides):
  spec = zoo.get_preset(name)
  rng = np.random.default_rng(seed)
  x, calib = rng.standard_normal((2, batch, size, size, 3)).astype(np.float32)
  torch_model = parity.randomize_norms(spec.torch_reference(**overrides), seed, calib)
  module = spec.build(**overrides)
  variables = parity.port_reference(spec, torch_model, module, x)
  return spec, torch_model, module, variables, x


def _check_eval(name, **kwargs):
  _, torch_model, module, variables, x = _setup(name, **kwargs)
  logits, inter = jax.jit(functools.partial(module.apply, train=False))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert parity.max_abs_diff(logits, expected) <= TOL
  assert parity.max_abs_diff(inter["embedding"], expected) <= TOL
  assert inter["pre_logits"].shape == (x.shape[0], torch_model.fc.in_features)


def _check_train(name, **kwargs):
  _, torch_model, module, variables, x = _setup(name, **kwargs)
  logits, updates = jax.jit(
      lambda v: module.apply(v, x, train=True, mutable=["batch_stats"]))(variables)
  expected = parity.torch_forward(torch_model, x, train=True)
  # Train-mode BN divides by batch statistics of few values per channel at tiny widths, which
  # amplifies float32 rounding (1.3e-4 seen for resnet50 with torch's threads under xdist), so
  # the train-mode logits get twice the eval tolerance.
  assert parity.max_abs_diff(logits[0], expected) <= 2 * TOL
  # torch's running stats after its one train-mode forward == our updated batch_stats.
  spec = zoo.get_preset(name)
  ported_after = spec.port(
      {**{k: v.detach().numpy() for k, v in torch_model.state_dict().items()}},
      jax.eval_shape(lambda: variables))
  ours = flax.traverse_util.flatten_dict(updates["batch_stats"])
  theirs = flax.traverse_util.flatten_dict(ported_after["batch_stats"])
  assert ours.keys() == theirs.keys()
  for k in ours:  # variances reach O(100) in deep layers: relative tolerance
    np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-4, atol=1e-5, err_msg=str(k))
  # And the stats really moved (a no-op update would pass the check above only by accident).
  before = flax.traverse_util.flatten_dict(variables["batch_stats"])
  assert max(parity.max_abs_diff(ours[k], before[k]) for k in ours) > 1e-3


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152"])
def test_tiny_width_eval_parity(name):
  _check_eval(name, width=8, num_classes=10)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_tiny_width_train_parity_and_running_stats(name):
  _check_train(name, width=8, num_classes=10)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_full_size_eval_parity(name):
  _check_eval(name)


@pytest.mark.slow
def test_resnet152_full_size_eval_parity():
  _check_eval("resnet152")


@pytest.mark.slow
def test_resnet50_full_size_train_parity():
  # Train-mode BN normalises by batch statistics: with 2 x 64x64 images layer4 has only 8
  # values per channel and float32 rounding gets amplified, so use a batch with more of them.
  _check_train("resnet50", size=96, batch=4)


def test_non_square_input_and_shapes():
  _check_eval("resnet18", width=8, num_classes=10, size=48)
  spec = zoo.get_preset("rn18")
  module = spec.build(width=8)
  x = np.zeros((1, 128, 75, 3), np.float32)  # mel x frames, not square
  shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), x))
  out, inter = jax.eval_shape(lambda v: module.apply(v, x), shapes)
  assert out.shape == (1, 1000) and inter["embedding"].shape == (1, spec.embedding_dim)
  assert inter["feature_map"].shape == (1, 4, 3, 64)


def test_presets():
  for depth in (18, 50, 152):
    random_init, pretrained = zoo.get_preset(f"rn{depth}"), zoo.get_preset(f"rn{depth}p")
    assert random_init.weights is None and random_init.architecture == f"resnet{depth}"
    assert pretrained.weights.startswith(f"resnet{depth}-")
    assert pretrained.weights_url.endswith(pretrained.weights)
    assert pretrained.recipe == "paper_mel3" and pretrained.embedding_dim == 1000


def test_wrong_channels_is_a_clear_error():
  """3 channels, or 1 standing for 3 identical ones (the folded stem); anything else fails."""
  module = zoo.get_preset("rn18").build(width=8)
  with pytest.raises(ValueError, match="paper_mel3"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 2), np.float32))


def test_bfloat16_compute_stays_close_to_float32():
  """dtype=bfloat16 (for accelerators): same parameters, float32 BN statistics and logits."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  _, _, module, variables, x = _setup("resnet18", width=8, num_classes=10)
  f32, _ = jax.jit(module.apply)(variables, x)
  bf16, inter = jax.jit(module.clone(dtype=jnp.bfloat16).apply)(variables, x)
  assert bf16.dtype == jnp.float32 and inter["feature_map"].dtype == jnp.bfloat16
  assert parity.max_abs_diff(bf16, f32) <= 0.05 * (1 + float(np.max(np.abs(f32))))
