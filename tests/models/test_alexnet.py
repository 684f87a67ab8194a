"""AlexNet parity with torchvision (full size, eval), dropout in train mode, presets."""

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.models import torch_compatible_layers
from bioacoustics_jax.porting import parity
from tests.models import parity_registry

parity_registry.PARITY_TESTED.add("alexnet")


@pytest.mark.parametrize("size", [(64, 64), (127, 90)])
def test_full_size_eval_parity(size):
  # 127x90 leaves a 2x1 map before the 6x6 adaptive pool: overlapping, uneven torch bins.
  x = np.random.default_rng(0).standard_normal((2, *size, 3)).astype(np.float32)
  logits, inter, expected = parity.eval_outputs(zoo.get_preset("alexnet"), x)
  assert parity.max_abs_diff(logits, expected) <= 1e-4
  assert parity.max_abs_diff(inter["embedding"], expected) <= 1e-4
  assert inter["pre_logits"].shape == (2, 4096)


@pytest.mark.parametrize("in_hw,out", [((13, 13), 6), ((5, 7), 6), ((1, 2), 6), ((14, 21), 7),
                                       ((12, 18), (6, 6)), ((9, 4), 1)])
def test_adaptive_avg_pool_matches_torch(in_hw, out):
  import torch  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(1).standard_normal((2, *in_hw, 3)).astype(np.float32)
  ours = torch_compatible_layers.adaptive_avg_pool(x, out)
  theirs = torch.nn.AdaptiveAvgPool2d(out)(torch.from_numpy(x).permute(0, 3, 1, 2))
  np.testing.assert_allclose(ours, theirs.permute(0, 2, 3, 1).numpy(), atol=1e-6)


def test_dropout_only_in_training():
  module = zoo.get_preset("alexnet").build(hidden=32, num_classes=5)
  x = np.ones((2, 64, 64, 3), np.float32)
  # Constant weights instead of module.init: compiling the RNG for every kernel costs seconds.
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  variables = jax.tree.map(lambda s: np.full(s.shape, 0.01, s.dtype), shapes)
  apply = jax.jit(module.apply, static_argnames="train")
  a, _ = apply(variables, x)
  b, _ = apply(variables, x)
  np.testing.assert_array_equal(a, b)
  c, _ = apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)})
  assert not np.allclose(a, c)


def test_presets():
  alex = zoo.get_preset("alex")
  assert alex.architecture == "alexnet" and alex.weights == "alexnet-owt-7be5be79.pth"
  assert alex.weights_url.endswith(alex.weights) and alex.embedding_dim == 1000
  assert zoo.get_preset("alexnet").weights is None
