"""The model registry: every architecture has a parity test; names fail loudly.

How "has a parity test" is known: each family's test module (tests/models/test_<family>.py)
adds the architectures it checks against PyTorch to `tests.models.parity_registry.PARITY_TESTED`
at import time. This test imports every tests/models/test_*.py module (so it works under any
test selection or xdist split) and compares that set with the registry's architectures.
"""

import importlib
import pathlib

import pytest

from bioacoustics_jax.models import registry
from bioacoustics_jax.models import spec as spec_lib
from tests.models import parity_registry

PAPER_IDS = ("alex", "rn18", "rn18p", "rn50", "rn50p", "rn152", "rn152p", "vggish")
CNN_ARCHITECTURES = ("alexnet", "resnet18", "resnet50", "resnet152", "vgg16", "vggish",
                     "efficientnet_b0")


def _import_family_tests():
  for path in sorted(pathlib.Path(__file__).parent.glob("test_*.py")):
    if path.stem != "test_registry":
      importlib.import_module(f"tests.models.{path.stem}")


def test_all_architectures_have_parity_tests():
  _import_family_tests()
  architectures = {registry.get(name).architecture for name in registry.names()}
  untested = architectures - parity_registry.PARITY_TESTED
  assert not untested, (
      f"Architectures without a PyTorch parity test: {sorted(untested)}. Add one in "
      "tests/models/test_<family>.py and list it in parity_registry.PARITY_TESTED.")
  # A stale entry (a tested name that no longer exists) is a typo or a removed model.
  assert parity_registry.PARITY_TESTED <= architectures, (
      parity_registry.PARITY_TESTED - architectures)


def test_paper_ids_and_cnn_architectures_are_registered():
  names = set(registry.names())
  assert set(PAPER_IDS) <= names
  assert set(CNN_ARCHITECTURES) <= names
  assert {"efficientnet_b0p", "vgg16p"} <= names


def test_unknown_name_lists_known_ones():
  with pytest.raises(KeyError) as err:
    registry.get("resnet9000")
  assert "rn50p" in str(err.value) and "vggish" in str(err.value)


def test_duplicate_registration_fails():
  existing = registry.get("rn18")
  with pytest.raises(ValueError, match="registered twice"):
    registry.register(spec_lib.ModelSpec(name="rn18", architecture="resnet18",
                                         build=existing.build, recipe=existing.recipe,
                                         embedding_dim=1000))
  assert registry.get("rn18") is existing


@pytest.mark.parametrize("name", sorted(set(PAPER_IDS) | set(CNN_ARCHITECTURES)))
def test_specs_are_complete(name):
  spec = registry.get(name)
  assert spec.port is not None and spec.torch_reference is not None
  assert spec.embedding_dim > 0 and spec.recipe in ("paper_mel3", "vggish_logmel")
  if spec.weights is not None:
    assert spec.weights_url.endswith("/" + spec.weights)
