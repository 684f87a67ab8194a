"""HuBERT / AVES: Flax vs transformers HubertModel and vs our torchaudio-layout reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bioacoustics_jax.models import hubert
from bioacoustics_jax.zoo import bindings
from bioacoustics_jax import zoo
from bioacoustics_jax.porting import hubert as hubert_porting
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"hubert_base"})  # read by tests/zoo/test_presets.py

# Same structure as HuBERT-base (group-norm extractor, even positional kernel, post-LN).
TINY = dict(conv_layers=((32, 10, 5), (32, 3, 2), (32, 3, 2)), embed_dim=32, num_layers=2,
            num_heads=4, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)
# The large-model variant: LayerNorm in every conv, pre-LN layers, final LayerNorm.
TINY_STABLE = dict(TINY, extractor_mode="layer_norm", layer_norm_first=True, conv_bias=True)


def _wave(batch=2, samples=3000, seed=0):
  return np.random.default_rng(seed).normal(0, 0.3, (batch, samples)).astype(np.float32)


def _torch_last(torch_model, x):
  with torch.no_grad():
    out = torch_model.eval()(torch.from_numpy(x))
  return (out.last_hidden_state if hasattr(out, "last_hidden_state") else out).numpy()


def _parity(torch_model, overrides, x, tol=1e-4):
  perturb.perturb_parameters(torch_model, seed=1).eval()
  spec = zoo.get_preset("aves")
  module = spec.build(**overrides)
  variables = parity.port_reference(spec, torch_model, module, x)
  out, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  expected = _torch_last(torch_model, x)
  assert out.shape == expected.shape
  assert parity.max_abs_diff(out, expected) <= tol
  assert parity.max_abs_diff(inter["embedding"], expected.mean(axis=1)) <= tol
  return module, variables, inter


@pytest.mark.parametrize("overrides", [TINY, TINY_STABLE], ids=["base_like", "stable_ln"])
def test_tiny_parity_transformers(overrides):
  _parity(bindings.hubert_transformers_reference(**overrides), overrides, _wave())


@pytest.mark.parametrize("overrides", [TINY, TINY_STABLE], ids=["base_like", "stable_ln"])
def test_tiny_parity_torchaudio_layout(overrides):
  _, _, inter = _parity(bindings.hubert_reference(**overrides), overrides, _wave())
  assert inter["embedding"].shape == (2, 32)


def test_layouts_hold_the_same_tensors():
  """Our torchaudio-layout reference and transformers' model, normalised, have equal keys/shapes."""
  ta = torch_to_flax.to_numpy_state_dict(bindings.hubert_reference(**TINY))
  hf = torch_to_flax.to_numpy_state_dict(bindings.hubert_transformers_reference(**TINY))
  assert hubert_porting.detect_layout(ta) == "torchaudio"
  assert hubert_porting.detect_layout(hf) == "transformers"
  ta_norm = hubert_porting.to_transformers_layout(ta)
  hf_norm = hubert_porting.to_transformers_layout(hf)
  hf_norm.pop("masked_spec_embed")
  assert {k: v.shape for k, v in ta_norm.items()} == {k: v.shape for k, v in hf_norm.items()}


def test_same_weights_same_output_across_layouts():
  """transformers weights renamed into torchaudio names give the same Flax model output."""
  hf_model = perturb.perturb_parameters(bindings.hubert_transformers_reference(**TINY), seed=3).eval()
  hf = torch_to_flax.to_numpy_state_dict(hf_model)
  inverse = {"feature_projection.": "encoder.feature_projection.", "encoder.": "encoder.transformer."}
  ta = {}
  for key, value in hf.items():
    if key == "masked_spec_embed":
      continue
    key = key.replace("parametrizations.weight.original0", "weight_g")
    key = key.replace("parametrizations.weight.original1", "weight_v")
    prefix = next(p for p in (*inverse, "") if key.startswith(p))
    ta[(inverse[prefix] + key[len(prefix):]) if prefix else key] = value
  x = _wave(1)
  module = hubert.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  out_hf = module.apply(hubert_porting.port_hubert(hf, target), x)[0]
  out_ta = module.apply(hubert_porting.port_hubert(ta, target), x)[0]
  np.testing.assert_array_equal(np.asarray(out_hf), np.asarray(out_ta))
  assert parity.max_abs_diff(out_hf, _torch_last(hf_model, x)) <= 1e-4


def test_weight_norm_kernel_matches_torch():
  conv = torch.nn.Conv1d(16, 16, 8, padding=4, groups=4)
  conv = torch.nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
  with torch.no_grad():
    conv.parametrizations.weight.original0.mul_(1.7)
    effective = conv.weight.numpy()
  g = conv.parametrizations.weight.original0.detach().numpy()
  v = conv.parametrizations.weight.original1.detach().numpy()
  assert g.shape == (1, 1, 8)
  np.testing.assert_allclose(hubert_porting.weight_norm_kernel(g, v), effective, atol=1e-6)


def test_porter_errors_name_the_problem():
  x = _wave(1)
  module = hubert.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  sd = torch_to_flax.to_numpy_state_dict(bindings.hubert_reference(**TINY))
  fairseq = {"feature_extractor.conv_layers.0.0.weight": np.zeros((32, 1, 10), np.float32)}
  with pytest.raises(torch_to_flax.PortingError, match="torchaudio"):
    hubert_porting.port_hubert(fairseq, target)
  partial = dict(sd)
  del partial["encoder.transformer.pos_conv_embed.conv.weight_v"]
  with pytest.raises(torch_to_flax.PortingError, match="weight_v"):
    hubert_porting.port_hubert(partial, target)
  missing = dict(sd)
  del missing["encoder.transformer.layers.1.feed_forward.output_dense.bias"]
  with pytest.raises(torch_to_flax.PortingError, match="encoder.layers.1.feed_forward.output_dense.bias"):
    hubert_porting.port_hubert(missing, target)


def test_aves_file_in_weights_dir_loads_through_porting_load(tmp_path):
  """The real loading path: a torchaudio-format .pt under the spec's file name -> Flax params."""
  from bioacoustics_jax.porting import load  # pylint: disable=g-import-not-at-top
  torch_model = perturb.perturb_parameters(bindings.hubert_reference(**TINY), seed=4).eval()
  aves = zoo.resolve("aves", TINY, weights_dir=tmp_path)
  torch.save(torch_model.state_dict(), aves.weights_path)
  x = _wave(1)
  variables = aves.init_variables(jax.random.key(0), x)
  out = aves.module.apply(variables, x)[0]
  assert parity.max_abs_diff(out, _torch_last(torch_model, x)) <= 1e-4
  with pytest.raises(load.MissingWeightsError, match="aves-base-all.torchaudio.pt"):
    zoo.resolve("aves_all", TINY, weights_dir=tmp_path).init_variables(jax.random.key(0), x)


def test_input_errors():
  module = hubert.build(**TINY)
  with pytest.raises(ValueError, match="waveform16k"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 3000, 1), np.float32))
  with pytest.raises(ValueError, match="receptive field"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 20), np.float32))


def test_specs_and_frozen_prefix():
  for name, weights in [("aves", "aves-base-bio.torchaudio.pt"),
                        ("aves_all", "aves-base-all.torchaudio.pt")]:
    spec = zoo.get_preset(name)
    assert spec.architecture == "hubert_base" and spec.recipe == "waveform16k"
    assert spec.weights == weights and spec.weights_url.endswith(weights)
    assert spec.embedding_dim == 768
  spec = zoo.get_preset("aves")
  x = _wave(1, 1000)
  params = jax.eval_shape(lambda x: spec.build(**TINY).init(jax.random.PRNGKey(0), x), x)["params"]
  assert set(spec.frozen_prefixes) <= set(params)


def test_parameter_count_vs_torch():
  torch_model = bindings.hubert_reference(**TINY)
  x = _wave(1)
  variables = parity.port_reference(zoo.get_preset("aves"), torch_model, hubert.build(**TINY), x)
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  # torch stores the positional conv as (g [1, 1, K], v); we store the folded kernel only.
  assert n_flax == sum(p.numel() for p in torch_model.parameters()) - TINY["pos_conv_kernel"]


def test_bfloat16_compute_is_close_and_differentiable():
  x = _wave().astype(np.float32)
  diff, scale, m16, variables = parity.bfloat16_deviation(zoo.get_preset("aves"), x, **TINY)
  assert diff <= 0.05 * max(scale, 1.0)
  assert parity.gradients_are_finite(m16, variables, x)


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["transformers", "torchaudio"])
def test_full_hubert_base_parity(reference):
  make = bindings.hubert_transformers_reference if reference == "transformers" else bindings.hubert_reference
  _, variables, inter = _parity(make(), {}, _wave(2, 16000))
  assert inter["embedding"].shape == (2, 768)
  assert inter["last_hidden_state"].shape == (2, 49, 768)
