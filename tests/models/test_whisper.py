"""Whisper encoder: Flax vs transformers' WhisperEncoder (tiny; full whisper-base slow), the
30 s padding rule, the checkpoint layouts and the porter's errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.models import whisper
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from bioacoustics_jax.porting import whisper as whisper_porting
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"whisper_base"})  # read by tests/zoo/test_presets.py

# 100-frame windows (50 positions); unequal widths so a transposed kernel cannot pass.
TINY = dict(num_mel_bins=16, d_model=32, num_layers=2, num_heads=4, ff_dim=48,
            max_source_positions=50)


def _features(overrides, frames, batch=2, seed=0):
  """Log-mel-like features in Whisper's range, the clip's `frames` only."""
  rng = np.random.default_rng(seed)
  return rng.uniform(-1.0, 1.5, (batch, overrides.get("num_mel_bins", 80), frames)).astype(
      np.float32)


def _torch_model(overrides, seed=1):
  torch.manual_seed(seed)
  return perturb.perturb_parameters(zoo.get_preset("whisper_base").torch_reference(**overrides),
                                    seed=seed).eval()


def _check(overrides, x, torch_model=None, state_dict=None):
  """Ours on the clip's frames vs transformers on the same frames padded to 30 s."""
  spec = zoo.get_preset("whisper_base")
  torch_model = torch_model or _torch_model(overrides)
  module = spec.build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  variables = spec.port(state_dict or torch_to_flax.to_numpy_state_dict(torch_model), target)
  out, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  full = np.asarray(whisper.pad_features(jnp.asarray(x), 2 * module.max_source_positions))
  with torch.no_grad():
    want = torch_model(torch.from_numpy(full)).last_hidden_state.numpy()
  scale = float(np.abs(want).max())
  covered = -(-x.shape[-1] // 2)
  assert parity.max_abs_diff(out, want) <= 1e-5 * scale
  assert parity.max_abs_diff(inter["embedding"], want[:, :covered].mean(axis=1)) <= 1e-5 * scale
  return torch_model, variables, inter


@pytest.mark.parametrize("frames", [100, 37], ids=["full_window", "short_clip"])
def test_tiny_parity(frames):
  torch_model, variables, inter = _check(TINY, _features(TINY, frames))
  assert inter["embedding"].shape == (2, 32) and inter["last_hidden_state"].shape == (2, 50, 32)
  n_torch = sum(p.numel() for p in torch_model.parameters())
  assert sum(np.size(v) for v in jax.tree_util.tree_leaves(variables)) == n_torch


def test_padding_is_what_the_feature_extractor_gives_silence():
  """30 s of zeros after a clip: every padded frame is max(-1.5, peak - 2) (quiet and loud)."""
  from transformers import WhisperFeatureExtractor  # pylint: disable=g-import-not-at-top
  extractor = WhisperFeatureExtractor()
  rng = np.random.default_rng(0)
  audio = np.stack([1e-4 * rng.normal(size=8000), 0.5 * rng.normal(size=8000)]).astype(np.float32)
  ref = extractor(list(audio), sampling_rate=16000, return_tensors="np")["input_features"]
  frames = 60  # past the clip's last window (frame 51)
  padded = np.asarray(whisper.pad_features(jnp.asarray(ref[..., :frames]), 3000))
  assert np.abs(padded - ref).max() <= 1e-6
  assert ref[0, 0, -1] == pytest.approx(-1.5) and ref[1, 0, -1] > -1.5  # both branches


def test_checkpoint_layouts_port_to_the_same_model():
  """WhisperForConditionalGeneration's model.safetensors (`model.encoder.*` + decoder +
  proj_out) and WhisperModel's `encoder.*` give the bare encoder's weights; anything else
  beside the encoder, and a missing encoder tensor, are named."""
  torch_model = _torch_model(TINY)
  bare = torch_to_flax.to_numpy_state_dict(torch_model)
  decoder = {"model.decoder.embed_tokens.weight": np.zeros((7, 32), np.float32),
             "proj_out.weight": np.zeros((7, 32), np.float32)}
  generation = {**{"model.encoder." + k: v for k, v in bare.items()}, **decoder}
  x = _features(TINY, 100, batch=1)
  _check(TINY, x, torch_model, state_dict=generation)
  _check(TINY, x, torch_model, state_dict={"encoder." + k: v for k, v in bare.items()})
  module = whisper.build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  with pytest.raises(torch_to_flax.PortingError, match="classifier.weight"):
    whisper_porting.port_whisper(dict(generation, **{"classifier.weight": np.zeros(3)}), target)
  missing = dict(bare)
  del missing["layers.1.self_attn.v_proj.bias"]
  with pytest.raises(torch_to_flax.PortingError, match=r"layers\.1\.self_attn\.v_proj\.bias"):
    whisper_porting.port_whisper(missing, target)
  with pytest.raises(torch_to_flax.PortingError, match="Not a Whisper"):
    whisper_porting.port_whisper({"conv.weight": np.zeros(3)}, target)
  # k_proj has no bias: a checkpoint that carries one does not fit.
  with pytest.raises(torch_to_flax.PortingError, match="k_proj.bias"):
    whisper_porting.port_whisper(dict(bare, **{"layers.0.self_attn.k_proj.bias": np.zeros(32)}),
                                 target)


def test_input_errors_name_the_recipe():
  module = whisper.build(**TINY)
  for shape in [(1, 100, 16), (1, 16, 101)]:  # transposed; longer than 30 s
    with pytest.raises(ValueError, match="whisper_logmel"):
      module.init(jax.random.PRNGKey(0), np.zeros(shape, np.float32))


def test_preset_frozen_positions_and_bfloat16():
  spec = zoo.get_preset("whisper_base")
  assert spec.recipe == "whisper_logmel" and spec.embedding_dim == 512
  x = _features(TINY, 64)
  diff, scale, _, variables = parity.bfloat16_deviation(spec, x, **TINY)
  assert diff <= 0.05 * max(scale, 1.0)
  assert set(spec.frozen_prefixes) <= set(variables["params"])


@pytest.mark.slow
def test_full_whisper_base_parity_and_parameter_count():
  x = _features({}, 102, batch=1)  # a 1 s clip's frames
  torch_model, variables, inter = _check({}, x)
  assert inter["embedding"].shape == (1, 512)
  n_torch = sum(p.numel() for p in torch_model.parameters())
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  assert n_flax == n_torch == 20_590_592  # whisper-base's encoder (transformers' count)
