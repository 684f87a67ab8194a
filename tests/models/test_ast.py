"""AST: Flax vs transformers ASTModel parity (tiny; full AudioSet size slow), legacy key layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bioacoustics_jax.models import ast
from bioacoustics_jax import zoo
from bioacoustics_jax.porting import ast as ast_porting
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"ast"})  # read by tests/zoo/test_presets.py

# 2 x 7 overlapping patches; unequal strides so a frequency/time mix-up cannot pass.
TINY = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, max_length=64,
            num_mel_bins=32, frequency_stride=10, time_stride=8)


def _fbank(overrides, batch=2, seed=0):
  shape = (batch, overrides.get("max_length", 1024), overrides.get("num_mel_bins", 128))
  return np.random.default_rng(seed).normal(-4, 3, shape).astype(np.float32)


def _torch(torch_model, x):
  with torch.no_grad():
    out = torch_model.eval()(torch.from_numpy(x))
  return out.pooler_output.numpy(), out.last_hidden_state.numpy()


def _check(overrides, x, state_dict_fn=None, tol=1e-4):
  spec = zoo.get_preset("ast")
  torch_model = perturb.perturb_parameters(spec.torch_reference(**overrides), seed=2).eval()
  module = spec.build(**overrides)
  sd = torch_to_flax.to_numpy_state_dict(torch_model)
  if state_dict_fn is not None:
    sd = state_dict_fn(sd)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  variables = spec.port(sd, target)
  pooled, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  want_pooled, want_tokens = _torch(torch_model, x)
  assert parity.max_abs_diff(pooled, want_pooled) <= tol
  assert parity.max_abs_diff(inter["embedding"], want_pooled) <= tol
  assert parity.max_abs_diff(inter["last_hidden_state"], want_tokens) <= tol
  return torch_model, variables, inter


def test_tiny_parity():
  _, _, inter = _check(TINY, _fbank(TINY))
  assert inter["last_hidden_state"].shape == (2, 2 * 7 + 2, 32)  # (32-16)//10+1 = 2 by (64-16)//8+1 = 7 patches


def _to_legacy(sd):
  """Current transformers names -> the pre-5 ASTForAudioClassification layout (+ its head)."""
  renames = [("attention.q_proj", "attention.attention.query"),
             ("attention.k_proj", "attention.attention.key"),
             ("attention.v_proj", "attention.attention.value"),
             ("attention.o_proj", "attention.output.dense"),
             ("mlp.fc1", "intermediate.dense"), ("mlp.fc2", "output.dense")]
  out = {}
  for key, value in sd.items():
    if key.startswith("layers."):
      _, index, rest = key.split(".", 2)
      for new, old in renames:
        rest = rest.replace(new + ".", old + ".")
      key = f"encoder.layer.{index}.{rest}"
    out["audio_spectrogram_transformer." + key] = value
  out["classifier.layernorm.weight"] = np.ones(32, np.float32)
  out["classifier.dense.weight"] = np.zeros((527, 32), np.float32)
  return out


def test_legacy_checkpoint_layout_ports_to_the_same_model():
  legacy = _to_legacy({"layers.0.attention.o_proj.weight": 0, "layers.0.mlp.fc2.bias": 0,
                       "layers.3.attention.q_proj.bias": 0, "embeddings.cls_token": 0})
  assert set(legacy) >= {"audio_spectrogram_transformer.encoder.layer.0.attention.output.dense.weight",
                         "audio_spectrogram_transformer.encoder.layer.0.output.dense.bias",
                         "audio_spectrogram_transformer.encoder.layer.3.attention.attention.query.bias"}
  assert set(ast_porting.to_current_layout(legacy)) == {
      "layers.0.attention.o_proj.weight", "layers.0.mlp.fc2.bias",
      "layers.3.attention.q_proj.bias", "embeddings.cls_token",
      "classifier.layernorm.weight", "classifier.dense.weight"}
  _check(TINY, _fbank(TINY), state_dict_fn=_to_legacy)


def test_tokens_are_not_interchangeable():
  # Swapping cls and distillation tokens changes the tokens' outputs (pooled is symmetric in
  # them, so check the sequence): parity above therefore pins each token to its own key.
  torch_model, variables, _ = _check(TINY, _fbank(TINY))
  emb = variables["params"]["embeddings"]
  swapped = jax.tree_util.tree_map(lambda a: a, variables)
  swapped["params"]["embeddings"] = dict(emb, cls_token=emb["distillation_token"],
                                         distillation_token=emb["cls_token"])
  x = _fbank(TINY)
  _, inter = ast.build(**TINY).apply(swapped, x)
  assert parity.max_abs_diff(inter["last_hidden_state"], _torch(torch_model, x)[1]) > 1e-3


def test_input_shape_errors_name_the_recipe():
  module = ast.build(**TINY)
  with pytest.raises(ValueError, match="ast_fbank"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 32, 64), np.float32))  # transposed


def test_porter_errors():
  x = _fbank(TINY, 1)
  module = ast.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  with pytest.raises(torch_to_flax.PortingError, match="Not an AST"):
    ast_porting.port_ast({"conv1.weight": np.zeros(3)}, target)
  sd = torch_to_flax.to_numpy_state_dict(zoo.get_preset("ast").torch_reference(**TINY))
  sd["embeddings.position_embeddings"] = sd["embeddings.position_embeddings"][:, :-1]
  with pytest.raises(torch_to_flax.PortingError, match="position_embeddings"):
    ast_porting.port_ast(sd, target)


def test_parameter_count_matches_torch():
  torch_model, variables, _ = _check(TINY, _fbank(TINY, 1))
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  assert n_flax == sum(p.numel() for p in torch_model.parameters())


def test_bfloat16_compute_is_close_and_differentiable():
  x = _fbank(TINY).astype(np.float32)
  diff, scale, m16, variables = parity.bfloat16_deviation(zoo.get_preset("ast"), x, **TINY)
  assert diff <= 0.05 * max(scale, 1.0)
  assert parity.gradients_are_finite(m16, variables, x)


@pytest.mark.slow
def test_full_ast_parity():
  _, variables, inter = _check({}, _fbank({}, 1))
  assert inter["embedding"].shape == (1, 768)
  assert inter["last_hidden_state"].shape == (1, 1214, 768)
