"""wav2vec 2.0, WavLM and data2vec-audio (models/hubert.py options) vs transformers' own models.

Tiny widths in the default suite; full size (parameter count and parity) in slow tests. The
torch side is transformers' `Wav2Vec2Model` / `WavLMModel` / `Data2VecAudioModel` at random
init with every parameter perturbed (norms, biases, WavLM's gate constants), so a wrongly
mapped tensor cannot pass.
"""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.models import hubert
from bioacoustics_jax.porting import hubert as hubert_porting
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"wav2vec2_base", "wavlm_base_plus", "data2vec_audio_base"})

_TINY = dict(conv_layers=((32, 10, 5), (32, 3, 2), (32, 3, 2)), embed_dim=32, num_layers=2,
             num_heads=4, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)
# 74 frames (1500 samples): offsets up to 73 reach WavLM's log-spaced buckets (exact below 8)
# and their cap (64).
TINY = {
    "wav2vec2_base": _TINY,
    "wavlm_base_plus": dict(_TINY, num_buckets=32, max_distance=64),
    "data2vec_audio_base": dict(_TINY, extractor_mode="layer_norm", pos_conv_kernel=5,
                                pos_conv_layers=3),
}
# WavLM-large's layout (pre-LN, LayerNorm'd convs with bias) on the same gate code.
WAVLM_STABLE = dict(TINY["wavlm_base_plus"], layer_norm_first=True, extractor_mode="layer_norm",
                    conv_bias=True)
CASES = [(name, TINY[name]) for name in TINY] + [("wavlm_base_plus", WAVLM_STABLE)]
IDS = list(TINY) + ["wavlm_stable_ln"]


def _wave(batch=2, samples=1500, seed=0):
  return np.random.default_rng(seed).normal(0, 0.3, (batch, samples)).astype(np.float32)


def _torch_model(name, overrides, seed=1):
  torch.manual_seed(seed)
  return perturb.perturb_parameters(zoo.get_preset(name).torch_reference(**overrides),
                                    seed=seed).eval()


def _check(name, overrides, x, torch_model=None, state_dict=None):
  spec = zoo.get_preset(name)
  torch_model = torch_model or _torch_model(name, overrides)
  module = spec.build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  variables = spec.port(state_dict or torch_to_flax.to_numpy_state_dict(torch_model), target)
  out, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  with torch.no_grad():
    want = torch_model(torch.from_numpy(x)).last_hidden_state.numpy()
  scale = float(np.abs(want).max())
  assert parity.max_abs_diff(out, want) <= 1e-5 * scale
  assert parity.max_abs_diff(inter["embedding"], want.mean(axis=1)) <= 1e-5 * scale
  return torch_model, variables, inter


@pytest.mark.parametrize("name,overrides", CASES, ids=IDS)
def test_tiny_parity(name, overrides):
  torch_model, variables, inter = _check(name, overrides, _wave())
  assert inter["embedding"].shape == (2, 32)
  # Every torch parameter is used once; the weight-normed positional conv's (g, v) is folded
  # into one kernel (g has one value per kernel tap).
  n_torch = sum(p.numel() for p in torch_model.parameters())
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  folded = 0 if overrides.get("pos_conv_layers") else overrides["pos_conv_kernel"]
  assert n_flax == n_torch - folded - overrides["embed_dim"]  # masked_spec_embed: training only


def test_wavlm_buckets_match_transformers():
  from transformers.models.wavlm import modeling_wavlm  # pylint: disable=g-import-not-at-top
  attention = modeling_wavlm.WavLMAttention(16, 4, num_buckets=320, max_distance=800)
  length = 1200  # beyond max_distance: the capped bucket
  rel = torch.arange(length)[None, :] - torch.arange(length)[:, None]
  want = attention._relative_positions_bucket(rel).numpy()  # pylint: disable=protected-access
  np.testing.assert_array_equal(hubert.relative_position_buckets(length, 320, 800), want)


def test_pretraining_checkpoint_ports_with_its_heads_left_out():
  """The published wav2vec2-base file is Wav2Vec2ForPreTraining: `wav2vec2.*` + quantizer and
  projection heads; a CTC head is not a pre-training head and is refused by name."""
  from transformers import Wav2Vec2ForPreTraining  # pylint: disable=g-import-not-at-top
  backbone = _torch_model("wav2vec2_base", TINY["wav2vec2_base"])
  full = Wav2Vec2ForPreTraining(backbone.config)
  full.wav2vec2.load_state_dict(backbone.state_dict())
  sd = torch_to_flax.to_numpy_state_dict(full)
  assert any(k.startswith("quantizer.") for k in sd) and any(k.startswith("project_q.") for k in sd)
  x = _wave(1)
  _check("wav2vec2_base", TINY["wav2vec2_base"], x, torch_model=backbone, state_dict=sd)
  module = hubert.build(**TINY["wav2vec2_base"])
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  with pytest.raises(torch_to_flax.PortingError, match="lm_head.weight"):
    hubert_porting.port_hubert(dict(sd, **{"lm_head.weight": np.zeros((5, 32))}), target)


def test_porter_names_missing_wavlm_and_data2vec_tensors():
  x = _wave(1)
  for name, key in [("wavlm_base_plus", "encoder.layers.0.attention.rel_attn_embed.weight"),
                    ("wavlm_base_plus", "encoder.layers.1.attention.gru_rel_pos_const"),
                    ("data2vec_audio_base", "encoder.pos_conv_embed.layers.2.conv.bias")]:
    sd = torch_to_flax.to_numpy_state_dict(zoo.get_preset(name).torch_reference(**TINY[name]))
    module = hubert.build(**TINY[name])
    target = jax.eval_shape(lambda x, m=module: m.init(jax.random.PRNGKey(0), x), x)
    del sd[key]
    with pytest.raises(torch_to_flax.PortingError, match=key.replace(".", r"\.")):
      hubert_porting.port_hubert(sd, target)


def test_wavlm_bfloat16_and_train_mode():
  spec, x = zoo.get_preset("wavlm_base_plus"), _wave()
  # (Gradients through the shared encoder are checked in test_hubert.py.)
  diff, scale, _, variables = parity.bfloat16_deviation(spec, x, **TINY["wavlm_base_plus"])
  assert diff <= 0.05 * max(scale, 1.0)
  train = spec.build(**TINY["wavlm_base_plus"], **spec.train_kwargs)
  step = jax.jit(lambda v, x, key: train.apply(v, x, train=True, rngs={"dropout": key})[1]
                 ["embedding"])
  a, b = (step(variables, x, jax.random.key(s)) for s in (0, 1))
  assert np.all(np.isfinite(a)) and parity.max_abs_diff(a, b) > 0  # dropout acts


def test_presets():
  for name in TINY:
    spec = zoo.get_preset(name)
    assert spec.architecture == name and spec.embedding_dim == 768
    assert spec.weights == f"{name}.bin" and spec.weights_url.endswith("/pytorch_model.bin")
  assert zoo.get_preset("wav2vec2_base").recipe == "waveform16k_norm"
  assert zoo.get_preset("data2vec_audio_base").recipe == "waveform16k_norm"
  assert zoo.get_preset("wavlm_base_plus").recipe == "waveform16k"


# Parameters of the published checkpoints' backbones (transformers' models at their configs,
# counted without masked_spec_embed); the Flax count is the torch count less the folded
# weight-norm g (128 values) where there is one.
@pytest.mark.slow
@pytest.mark.parametrize("name", list(TINY))
def test_full_size_parity_and_parameter_count(name):
  torch_model, variables, inter = _check(name, {}, _wave(1, 16000))
  assert inter["embedding"].shape == (1, 768)
  n_torch = sum(p.numel() for n, p in torch_model.named_parameters() if n != "masked_spec_embed")
  folded = 0 if name == "data2vec_audio_base" else 128
  assert sum(np.size(v) for v in jax.tree_util.tree_leaves(variables)) == n_torch - folded
