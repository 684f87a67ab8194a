"""BirdSet's ConvNeXt-Base: Flax vs transformers' ConvNextForImageClassification, its porter and
BirdSet's mel front end (audio/recipes/birdset.py) vs librosa.

Tiny widths by default (every parameter perturbed: transformers starts layer scales at 1e-6,
which would hide a wrong residual branch); the full network in a slow test, with the
leaderboard's published 97.5M parameters.
"""

import jax
import librosa
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.porting import convnext as convnext_porting
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"convnext_base_birdset"})  # read by test_presets.py

NAME = "convnext_base_birdset"
# Three stages (two downsamplings), unequal widths, 1 input channel, 7 classes.
TINY = dict(dims=(8, 16, 24), depths=(1, 2, 1), num_classes=7)
FULL_PARAMS = 97_541_768  # BirdSet leaderboard: "model_parameters": 97.5 (millions)


def _check(overrides, x, seed=0, rel=1e-5):
  spec = zoo.get_preset(NAME)
  torch.manual_seed(seed)
  reference = perturb.perturb_parameters(spec.torch_reference(**overrides), seed).eval()
  module = spec.build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  variables = spec.port(torch_to_flax.to_numpy_state_dict(reference), target)
  logits, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  with torch.no_grad():
    out = reference(torch.from_numpy(np.transpose(x, (0, 3, 1, 2))), output_hidden_states=True)
    pooled = reference.convnext.layernorm(out.hidden_states[-1].mean([-2, -1])).numpy()
  assert parity.max_relative_diff(logits, out.logits.numpy()) <= rel
  assert parity.max_relative_diff(inter["embedding"], pooled) <= rel
  return reference, variables, inter


def test_tiny_parity_with_transformers():
  x = np.random.default_rng(0).normal(0, 1, (2, 40, 70, 1)).astype(np.float32)  # odd maps
  reference, variables, inter = _check(TINY, x)
  assert inter["embedding"].shape == (2, 24)
  n_flax = sum(np.size(v) for v in jax.tree_util.tree_leaves(variables))
  assert n_flax == sum(p.numel() for p in reference.parameters())


def test_porter_renames_and_refuses_by_name():
  sd = torch_to_flax.to_numpy_state_dict(zoo.get_preset(NAME).torch_reference(**TINY))
  renamed = convnext_porting.transformers_to_torchvision(sd)
  assert renamed["features.3.1.layer_scale"].shape == (16, 1, 1)
  assert "features.2.1.weight" in renamed and "classifier.2.weight" in renamed
  x = np.zeros((1, 32, 32, 1), np.float32)
  module = zoo.get_preset(NAME).build(**TINY)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  bare = {k[len("convnext."):]: v for k, v in sd.items() if k.startswith("convnext.")}
  with pytest.raises(torch_to_flax.PortingError, match="bare ConvNextModel"):
    convnext_porting.port_transformers_convnext(bare, target)
  missing = dict(sd)
  del missing["convnext.encoder.stages.1.layers.1.pwconv2.bias"]
  with pytest.raises(torch_to_flax.PortingError, match=r"features\.3\.1\.block\.5\.bias"):
    convnext_porting.port_transformers_convnext(missing, target)


def test_birdset_mel_matches_librosa_with_birdsets_constants():
  """torchaudio's Spectrogram + MelScale (HTK, no norm) = librosa's melspectrogram with
  htk=True, norm=None on these bins; BirdSet's PowerToDB = librosa's power_to_db (ref 1,
  amin 1e-10, top_db 80) per clip; then (x + 4.268) / 4.569."""
  audio = np.random.default_rng(1).normal(0, 0.1, (2, 16000)).astype(np.float32)
  audio[1] *= 0.01  # a quiet clip: its floor must not follow the loud one
  got = np.asarray(recipes.get_recipe("birdset_mel").prepare(audio, 32000))
  assert got.shape == (2, 128, 1 + 16000 // 320, 1)
  mels = librosa.feature.melspectrogram(y=audio, sr=32000, n_fft=1024, hop_length=320,
                                        power=2.0, center=True, pad_mode="reflect", n_mels=128,
                                        htk=True, norm=None)
  for i in range(2):
    want = (librosa.power_to_db(mels[i], ref=1.0, amin=1e-10, top_db=80.0) + 4.268) / 4.569
    assert np.abs(got[i, ..., 0] - want).max() <= 1e-3
  with pytest.raises(ValueError, match="32000"):
    recipes.get_recipe("birdset_mel").prepare(audio, 16000)


def test_presets():
  preset = zoo.get_preset(NAME)
  assert preset.bioacoustic and preset.weights.endswith(".safetensors")
  assert preset.weights_url.endswith("ConvNeXT-Base-BirdSet-XCL/resolve/main/model.safetensors")
  assert zoo.get_preset(NAME + "_random").weights is None
  assert zoo.resolve(NAME).recipe.sample_rate == 32000 and preset.window_seconds == 5.0


@pytest.mark.slow
def test_full_size_parity_on_a_5s_mel():
  x = np.random.default_rng(2).normal(0, 1, (1, 128, 501, 1)).astype(np.float32)
  reference, variables, inter = _check({}, x)
  assert inter["embedding"].shape == (1, 1024)
  assert sum(np.size(v) for v in jax.tree_util.tree_leaves(variables)) == FULL_PARAMS
  assert sum(p.numel() for p in reference.parameters()) == FULL_PARAMS
