"""CLAP's audio encoder (HTS-AT): Flax vs transformers' ClapAudioModelWithProjection / ClapModel
(tiny; full laion/clap-htsat-unfused size slow), the bicubic resize, the porter's refusals, bf16
and the train-mode graph."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.models import clap
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from bioacoustics_jax.porting.references import clap_torch
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"clap_htsat"})  # read by tests/zoo/test_presets.py

# 32x32 image from 128 frames of 8 bins (freq_ratio 4); maps 8 -> 4 with window 4: the first
# stage shifts its windows, the last (map == window) does not, as at full size. Unequal widths
# so a transposed kernel cannot pass.
TINY = dict(embed_dim=8, depths=(2, 2), num_heads=(2, 4), window_size=4, spec_size=32,
            num_mel_bins=8, projection_dim=12)


def _mel(frames, bins=8, batch=2, seed=0):
  """dB-like log-mel [B, frames, bins]."""
  return np.random.default_rng(seed).normal(-30.0, 12.0, (batch, frames, bins)).astype(np.float32)


def _distinct(torch_model, seed=1):
  """Every parameter perturbed (the bias tables start at 0), norms and BN stats randomised."""
  perturb.perturb_parameters(torch_model, seed=seed)
  parity.randomize_norms(torch_model, seed=seed)
  return torch_model.eval()


def _port(state_dict, overrides, x):
  module = zoo.get_preset("clap_htsat").build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  return module, zoo.get_preset("clap_htsat").port(state_dict, target)


def _check(overrides, x, seed=1):
  torch.manual_seed(seed)
  torch_model = _distinct(zoo.get_preset("clap_htsat").torch_reference(**overrides), seed)
  module, variables = _port(torch_to_flax.to_numpy_state_dict(torch_model), overrides, x)
  out, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  with torch.no_grad():
    xt = torch.from_numpy(x[:, None])
    want = torch_model(xt).audio_embeds.numpy()
    pooler = torch_model.audio_model(xt).pooler_output.numpy()
  assert parity.max_relative_diff(out, want) <= 1e-5
  assert parity.max_relative_diff(inter["pooler"], pooler) <= 1e-5
  normed = want / np.linalg.norm(want, axis=-1, keepdims=True)
  assert parity.max_relative_diff(inter["embedding"], normed) <= 1e-5
  return torch_model, variables, inter


def test_bicubic_matrix_is_torchs_interpolate():
  for frames, width in [(201, 256), (1001, 1024), (7, 16), (256, 256)]:
    x = np.random.default_rng(frames).normal(size=(1, 1, frames, 5)).astype(np.float64)
    want = torch.nn.functional.interpolate(torch.from_numpy(x), (width, 5), mode="bicubic",
                                           align_corners=True).numpy()[0, 0]
    got = clap.bicubic_resize_matrix(frames, width).astype(np.float64) @ x[0, 0]
    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max(), (frames, width)


@pytest.mark.parametrize("frames", [101, pytest.param(128, marks=pytest.mark.slow)],
                         ids=["resized", "exact_width"])
def test_tiny_parity(frames):
  torch_model, variables, inter = _check(TINY, _mel(frames))
  assert inter["embedding"].shape == (2, 12) and inter["feature_map"].shape == (2, 4, 4, 16)
  n_torch = sum(p.numel() for p in torch_model.parameters())
  assert sum(np.size(v) for v in jax.tree_util.tree_leaves(variables["params"])) == n_torch


def test_clap_model_layout_and_porter_refusals():
  """The hub's ClapModel file (text tower beside the audio one) ports to the same model, equal
  to get_audio_features; unknown, missing, mis-shaped and fused-only tensors are named."""
  torch.manual_seed(2)
  full = _distinct(clap_torch.transformers_clap(**{**clap.ARCHS["clap_htsat"], **TINY}), 2)
  sd = torch_to_flax.to_numpy_state_dict(full)
  assert any(k.startswith("text_model.") for k in sd) and "logit_scale_a" in sd
  x = _mel(101, seed=3)
  module, variables = _port(sd, TINY, x)
  _, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  with torch.no_grad():
    want = full.get_audio_features(input_features=torch.from_numpy(x[:, None])).pooler_output
  assert parity.max_relative_diff(inter["embedding"], want.numpy()) <= 1e-5

  def refused(state_dict, match):
    with pytest.raises(torch_to_flax.PortingError, match=match):
      _port(state_dict, TINY, x)

  refused(dict(sd, **{"audio_model.classifier.weight": np.zeros(3)}), r"classifier\.weight")
  missing = dict(sd)
  del missing["audio_model.audio_encoder.layers.1.blocks.0.attention.self.key.bias"]
  refused(missing, r"layers\.1\.blocks\.0\.attention\.self\.key\.bias")
  key = "audio_projection.linear2.weight"
  refused(dict(sd, **{key: np.zeros((12, 11), np.float32)}), r"audio_projection\.linear2")
  fusion = "audio_model.audio_encoder.patch_embed.mel_conv2d.weight"
  refused(dict(sd, **{fusion: np.zeros((8, 1, 4, 12), np.float32)}), r"mel_conv2d.*fused")
  index = "audio_model.audio_encoder.layers.0.blocks.1.attention.self.relative_position_index"
  refused(dict(sd, **{index: sd[index].T.copy()}), r"relative_position_index")
  refused({"encoder.layer.0.weight": np.zeros(3)}, "Not a CLAP state_dict")


def test_input_errors_name_the_recipe():
  module = clap.build(**TINY)
  init = lambda m, x: jax.eval_shape(lambda x: m.init(jax.random.PRNGKey(0), x), x)
  for shape in [(1, 101, 7), (1, 129, 8), (1, 8, 101)]:  # bins; > spec width; transposed
    with pytest.raises(ValueError, match="clap_logmel"):
      init(module, np.zeros(shape, np.float32))
  with pytest.raises(ValueError, match="smaller than"):
    init(clap.build(**{**TINY, "window_size": 8}), _mel(128))


@pytest.mark.slow
def test_bfloat16_and_train_mode():
  spec = zoo.get_preset("clap_htsat")
  assert spec.recipe == "clap_logmel" and spec.embedding_dim == 512 and spec.batch_norm
  x = _mel(101)
  diff, scale, _, variables = parity.bfloat16_deviation(spec, x, **TINY)
  assert diff <= 0.05 * max(scale, 1e-3)
  # Fine-tuning graph: the preset's dropout acts, BatchNorm updates its statistics.
  module = spec.build(**TINY, **spec.train_kwargs)
  run = jax.jit(lambda v, r: module.apply(v, x, train=True, rngs={"dropout": r},
                                          mutable=["batch_stats"]))
  (a, _), stats = run(variables, jax.random.PRNGKey(0))
  (b, _), _ = run(variables, jax.random.PRNGKey(1))
  assert np.all(np.isfinite(a)) and not np.allclose(a, b)
  assert not np.allclose(stats["batch_stats"]["batch_norm"]["mean"],
                         variables["batch_stats"]["batch_norm"]["mean"])


@pytest.mark.slow
def test_full_clap_htsat_parity_and_parameter_count():
  x = _mel(1001, bins=64, batch=1)  # 10 s: the extractor's 1001 frames, resized to 1024
  torch_model, variables, inter = _check({}, x)
  assert inter["embedding"].shape == (1, 512)
  n_torch = sum(p.numel() for p in torch_model.parameters())
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables["params"]))
  # transformers' ClapAudioModelWithProjection at laion/clap-htsat-unfused's audio_config.
  assert n_flax == n_torch == 28_190_872
