"""VGG-16 parity with torchvision: narrow variant by default, full size in the slow suite."""

import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from tests.models import parity_registry

parity_registry.PARITY_TESTED.add("vgg16")


def _check(size, **overrides):
  rng = np.random.default_rng(0)
  x = rng.standard_normal((2, *size, 3)).astype(np.float32)
  logits, inter, expected = parity.eval_outputs(zoo.get_preset("vgg16"), x, **overrides)
  assert parity.max_abs_diff(logits, expected) <= 1e-4
  assert parity.max_abs_diff(inter["embedding"], expected) <= 1e-4


@pytest.mark.parametrize("size", [(64, 64), (96, 40)])
def test_narrow_eval_parity(size):
  _check(size, width=8, hidden=64, num_classes=10)


@pytest.mark.slow
def test_full_size_eval_parity():
  _check((64, 64))


def test_presets():
  assert zoo.get_preset("vgg16").weights is None
  assert zoo.get_preset("vgg16p").weights == "vgg16-397923af.pth"
