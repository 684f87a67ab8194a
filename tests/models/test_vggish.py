"""VGGish parity with the torchvggish-layout reference: per patch, averaged, and key layout."""

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.add("vggish")


def _patches(batch=2, n=3, seed=0):
  return np.random.default_rng(seed).standard_normal((batch, n, 96, 64, 1)).astype(np.float32)


def _torch_patches(torch_model, x):
  import torch  # pylint: disable=g-import-not-at-top
  flat = x.reshape(-1, 96, 64, 1).transpose(0, 3, 1, 2)  # [B * P, 1, 96, 64], as torchvggish
  with torch.no_grad():
    return torch_model.eval()(torch.from_numpy(np.ascontiguousarray(flat))).numpy()


@pytest.mark.parametrize("overrides", [{}, {"width": 8, "hidden": 64}])
def test_eval_parity(overrides):
  spec = zoo.get_preset("vggish")
  x = _patches()
  torch_model, module, variables = parity.reference_and_port(spec, x, **overrides)
  embedding, inter = jax.jit(module.apply)(variables, x)
  per_patch = _torch_patches(torch_model, x).reshape(2, 3, 128)
  assert per_patch.std() > 0  # not all killed by the final ReLU: the comparison means something
  assert parity.max_abs_diff(inter["patch_embeddings"], per_patch) <= 1e-4
  assert parity.max_abs_diff(embedding, per_patch.mean(axis=1)) <= 1e-4
  assert inter["embedding"].shape == (2, spec.embedding_dim)


def test_checkpoint_key_layout():
  keys = set(zoo.get_preset("vggish").torch_reference(width=8, hidden=16).state_dict())
  expected = {f"{stack}.{i}.{leaf}" for stack, idx in
              (("features", (0, 3, 6, 8, 11, 13)), ("embeddings", (0, 2, 4)))
              for i in idx for leaf in ("weight", "bias")}
  assert keys == expected


def test_flatten_order_is_checked():
  """A state_dict whose first Linear expects (C, H, W) flatten order must not match."""
  spec = zoo.get_preset("vggish")
  x = _patches(1, 1)
  torch_model, module, variables = parity.reference_and_port(spec, x, width=8, hidden=16)
  sd = torch_to_flax.to_numpy_state_dict(torch_model)
  w = sd["embeddings.0.weight"].reshape(16, 6, 4, -1)  # (out, H, W, C) as ported
  sd["embeddings.0.weight"] = w.transpose(0, 3, 1, 2).reshape(16, -1)  # (out, C, H, W)
  shuffled = spec.port(sd, jax.eval_shape(lambda: variables))
  a = module.apply(variables, x)[1]["pre_logits"]
  b = module.apply(shuffled, x)[1]["pre_logits"]
  assert parity.max_abs_diff(a, b) > 1e-3


def test_wrong_input_shape_names_the_recipe():
  module = zoo.get_preset("vggish").build(width=8, hidden=16)
  with pytest.raises(ValueError, match="vggish_logmel"):
    module.init(jax.random.PRNGKey(0), np.zeros((2, 96, 64, 1), np.float32))


def test_preset():
  spec = zoo.get_preset("vggish")
  assert spec.weights == "vggish-10086976.pth" and spec.weights_url.endswith(spec.weights)
  assert spec.recipe == "vggish_logmel" and spec.embedding_dim == 128
