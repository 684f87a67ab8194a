"""BirdAVES (zoo/presets_bioacoustic.py): HuBERT at large widths on AVES' base layout.

The parity reference is transformers' `HubertModel` (code this project did not write) at random
init with every parameter perturbed; the porter is also run on ESP's torchaudio key layout (the
`.torchaudio.pt` files), reproduced by porting/references/wav2vec2_torch.py's state_dict (the
presets' `reference`, as for `aves`, so the PyTorch baseline loads ESP's files as they are).
Tiny widths in the default suite (the large structure: post-LN, group-norm extractor without
conv bias, more heads than base per width); full size in slow tests.
"""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.models import hubert
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax
from bioacoustics_jax.zoo import bindings
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"birdaves_large"})  # read by tests/zoo/test_presets.py

# birdaves_large's layout at tiny width: 8 heads of 4 (large: 16 heads of 64).
TINY = dict(conv_layers=((32, 10, 5), (32, 3, 2), (32, 3, 2)), embed_dim=32, num_layers=2,
            num_heads=8, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)
LARGE_NAMES = ("birdaves_biox_large", "birdaves_bioxn_large")
# The BirdAVES README: ~316M parameters for the large models (HuBERT-large's count).
LARGE_PARAMS = 315_427_840


def _wave(batch=2, samples=2000, seed=0):
  return np.random.default_rng(seed).normal(0, 0.3, (batch, samples)).astype(np.float32)


def _check(name, torch_model, overrides, x, rel=1e-5):
  spec = zoo.get_preset(name)
  module = spec.build(**overrides)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), x)
  variables = spec.port(torch_to_flax.to_numpy_state_dict(torch_model), target)
  out, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, x)
  with torch.no_grad():
    want = torch_model.eval()(torch.from_numpy(x))
  want = (want.last_hidden_state if hasattr(want, "last_hidden_state") else want).numpy()
  scale = float(np.abs(want).max())
  assert parity.max_abs_diff(out, want) <= rel * scale
  assert parity.max_abs_diff(inter["embedding"], want.mean(axis=1)) <= rel * scale
  return variables, inter


def _transformers(**overrides):
  torch.manual_seed(0)
  return perturb.perturb_parameters(
      bindings.hubert_transformers_reference("birdaves_large", **overrides), seed=1)


def test_tiny_parity_with_transformers_hubert():
  # bioxn-large: the same architecture
  _, inter = _check("birdaves_biox_large", _transformers(**TINY), TINY, _wave())
  assert inter["embedding"].shape == (2, 32)


def test_presets_and_files():
  assert zoo.get_preset("birdaves_biox_base").architecture == "hubert_base"
  for name in ("birdaves_biox_base",) + LARGE_NAMES:
    preset = zoo.get_preset(name)
    assert preset.weights == name.replace("_", "-") + ".torchaudio.pt"
    assert preset.weights_url.endswith("/birdaves/" + preset.weights)
    assert preset.bioacoustic and preset.licence == "CC BY-NC-SA 4.0"
    assert preset.recipe == "waveform16k" and preset.frozen_prefixes == ("feature_extractor",)
  assert {zoo.get_preset(n).embedding_dim for n in LARGE_NAMES} == {1024}
  # The published config: HuBERT-large widths, base layout (post-LN, group norm, no conv bias).
  arch = hubert.ARCHS["birdaves_large"]
  assert (arch["embed_dim"], arch["num_layers"], arch["num_heads"], arch["ff_dim"]) == (
      1024, 24, 16, 4096)
  assert not arch["layer_norm_first"] and arch["extractor_mode"] == "group_norm"
  assert not arch["conv_bias"]


def test_torchaudio_file_loads_through_the_zoo(tmp_path):
  """ESP's layout (a torchaudio state_dict, weight-normed positional conv as weight_g /
  weight_v) under the preset's file name in the weights folder -> the same output."""
  reference = perturb.perturb_parameters(bindings.hubert_reference(**TINY), seed=3).eval()
  assert "encoder.transformer.pos_conv_embed.conv.weight_g" in reference.state_dict()
  backbone = zoo.resolve("birdaves_bioxn_large", TINY, weights_dir=tmp_path)
  torch.save(reference.state_dict(), backbone.weights_path)
  x = _wave(1)
  out = backbone.module.apply(backbone.init_variables(jax.random.key(0), x), x)[0]
  with torch.no_grad():
    want = reference(torch.from_numpy(x)).numpy()
  assert parity.max_abs_diff(out, want) <= 1e-5 * float(np.abs(want).max())


@pytest.mark.slow
def test_full_size_large_parity_and_count():
  """Full BirdAVES-large vs transformers' HubertModel: 1 s of audio, parameter count."""
  reference = _transformers()
  variables, inter = _check("birdaves_biox_large", reference, {}, _wave(1, 16000))
  assert inter["last_hidden_state"].shape == (1, 49, 1024)
  assert sum(np.size(v) for v in jax.tree_util.tree_leaves(variables)) == LARGE_PARAMS
  # torch: + masked_spec_embed (1024, training only) + weight norm's g (128 kernel taps).
  assert sum(p.numel() for p in reference.parameters()) == LARGE_PARAMS + 1024 + 128
