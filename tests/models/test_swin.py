"""Swin-S: Flax vs torchvision parity (tiny by default, full swin_s slow), window edge cases."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.models import swin
from bioacoustics_jax.models import swin_layers
from bioacoustics_jax.zoo import bindings
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"swin_s"})  # read by tests/zoo/test_presets.py

# Tiny Swin: same code paths as swin_s (4 stages, shifted blocks, patch merging), few channels.
TINY = dict(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=10)


def _ported(overrides, x, seed=0):
  spec = zoo.get_preset("swin_s")
  torch_model = perturb.perturb_parameters(spec.torch_reference(**overrides), seed).eval()
  module = spec.build(**overrides)
  variables = parity.port_reference(spec, torch_model, module, x)
  return torch_model, module, variables


def _check(overrides, x, tol=1e-4):
  torch_model, module, variables = _ported(overrides, x)
  logits, inter = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
  expected = parity.torch_forward(torch_model, x)
  assert logits.shape == expected.shape
  assert parity.max_abs_diff(logits, expected) <= tol
  assert parity.max_abs_diff(inter["embedding"], expected) <= tol
  return module, variables, inter


@pytest.mark.parametrize("hw", [(128, 200), (64, 64), (100, 36)])
def test_tiny_parity_non_square(hw):
  # 128x200 -> stage maps 32x50, 16x25, 8x13 (padded to 14x14, shifted), 4x7 (padded to 7x7:
  # shift switched off). 100x36 pads and shifts along time only in early stages.
  x = np.random.default_rng(0).uniform(0, 1, (2,) + hw + (3,)).astype(np.float32)
  _, _, inter = _check(TINY, x)
  assert inter["pre_logits"].shape == (2, 8 * 8)


def test_one_axis_shift_mask_matches_torchvision():
  # A map exactly one window tall but wider: torchvision shifts only along width, and its
  # slice arithmetic turns the unshifted axis into one region. Checked through full parity.
  x = np.random.default_rng(1).uniform(0, 1, (1, 28, 120, 3)).astype(np.float32)
  _check(dict(TINY, depths=(2, 2), num_heads=(1, 2)), x)


def test_relative_position_index_matches_torch_buffer():
  torch_model = bindings.swin_reference("swin_s", **TINY)
  buf = torch_model.features[1][0].attn.relative_position_index.numpy()
  np.testing.assert_array_equal(buf, swin_layers.relative_position_index((7, 7)))


def test_porter_rejects_bad_index_and_missing_keys():
  x = np.zeros((1, 64, 64, 3), np.float32)
  spec = zoo.get_preset("swin_s")
  torch_model = spec.torch_reference(**TINY)
  module = spec.build(**TINY)
  sd = torch_to_flax.to_numpy_state_dict(torch_model)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  bad = dict(sd)
  key = "features.1.0.attn.relative_position_index"
  bad[key] = bad[key][::-1].copy()
  with pytest.raises(torch_to_flax.PortingError, match="relative_position_index"):
    spec.port(bad, target)
  del sd["features.3.1.attn.relative_position_bias_table"]
  with pytest.raises(torch_to_flax.PortingError, match="features.3.1.attn.relative_position_bias_table"):
    spec.port(sd, target)


def test_rejects_one_channel_input():
  module = swin.build("swin_s", **TINY)
  with pytest.raises(ValueError, match="paper_mel3"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 64, 64, 1), np.float32))


def test_parameter_count_matches_torch():
  x = np.zeros((1, 64, 64, 3), np.float32)
  torch_model, _, variables = _ported(TINY, x)
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  assert n_flax == sum(p.numel() for p in torch_model.parameters())


# Training clones the backbone with dtype=bfloat16 on accelerators (train/finetune.py).
_BF16_X = np.random.default_rng(0).uniform(0, 1, (1, 64, 96, 3)).astype(np.float32)
_BF16_SMALL = dict(TINY, depths=(2, 2), num_heads=(1, 2))  # shifted blocks + merging, less compile


def test_bfloat16_compute_is_close():
  diff, scale, _, _ = parity.bfloat16_deviation(zoo.get_preset("swin_s"), _BF16_X, **_BF16_SMALL)
  assert diff <= 0.02 * max(scale, 1.0)


@pytest.mark.slow
def test_bfloat16_gradients_are_finite():
  # Compiling Swin's backward pass (rolls, pads, window reshapes) takes ~30 s on 2 busy cores.
  _, _, m16, variables = parity.bfloat16_deviation(zoo.get_preset("swin_s"), _BF16_X, **_BF16_SMALL)
  assert parity.gradients_are_finite(m16, variables, _BF16_X)


@pytest.mark.slow
def test_full_swin_s_parity():
  x = np.random.default_rng(0).uniform(0, 1, (2, 128, 200, 3)).astype(np.float32)
  start = time.perf_counter()
  module, variables, inter = _check({}, x)
  assert inter["embedding"].shape == (2, 1000)
  assert inter["pre_logits"].shape == (2, 768)
  n = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  assert n == 49_606_258  # torchvision's documented swin_s num_params
  print(f"swin_s full parity ok in {time.perf_counter() - start:.1f}s")
