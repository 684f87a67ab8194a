"""PANNs CNN14: the log-mel recipe against torchlibrosa (the original's front end), Flax vs the
packaged panns_inference Cnn14 end to end (waveform in), the strict porter and its front-end
check, the checkpoint layout (state dict under 'model')."""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import torch_to_flax
from tests.models import parity_registry

parity_registry.PARITY_TESTED.update({"cnn14"})  # read by tests/zoo/test_presets.py

TINY = {"width": 4}
RATE = 32000


def _audio(samples=16000, batch=2, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(samples) / RATE
  tone = 0.3 * np.sin(2 * np.pi * 880.0 * (1 + np.arange(batch))[:, None] * t)
  return (tone + 0.05 * rng.standard_normal((batch, samples))).astype(np.float32)


def _reference(overrides, seed=0):
  spec = zoo.get_preset("cnn14")
  torch.manual_seed(seed)
  model = spec.torch_reference(**overrides)
  parity.randomize_zero_biases(model, seed)
  parity.randomize_norms(model, seed)  # bn0 and every block: distinct stats and affines
  return spec, model.eval()


def _compare(overrides, audio):
  spec, torch_model = _reference(overrides)
  logmel = np.asarray(jax.jit(lambda a: recipes.panns_log_mel(a, RATE))(audio))
  module = spec.build(**overrides)
  variables = parity.port_reference(spec, torch_model, module, logmel)
  probs, inter = jax.jit(lambda v, x: module.apply(v, x))(variables, logmel)
  with torch.no_grad():
    want = torch_model(torch.from_numpy(audio))  # the original's own front end
  return variables, probs, inter, want


def test_recipe_matches_torchlibrosa_front_end():
  _, torch_model = _reference(TINY)
  audio = _audio(20000)
  with torch.no_grad():
    want = torch_model.logmel_extractor(torch_model.spectrogram_extractor(
        torch.from_numpy(audio)))[:, 0].numpy()  # [B, 1, frames, 64] -> [B, frames, 64]
  got = np.asarray(jax.jit(lambda a: recipes.panns_log_mel(a, RATE))(audio))
  assert got.shape == want.shape == (2, 1 + 20000 // 320, 64)
  # dB values up to ~30: float32 DFT-by-conv vs FFT differ by ~1e-5 dB.
  assert parity.max_relative_diff(got, want) <= 1e-5


def test_tiny_parity_end_to_end():
  _, probs, inter, want = _compare(TINY, _audio())
  assert parity.max_relative_diff(inter["embedding"], want["embedding"].numpy()) <= 1e-5
  assert parity.max_relative_diff(probs, want["clipwise_output"].numpy()) <= 1e-5
  assert inter["embedding"].shape == (2, 128)


def test_porter_checks_the_front_end_and_names_bad_tensors():
  spec, torch_model = _reference(TINY)
  sd = torch_to_flax.to_numpy_state_dict(torch_model)
  module = spec.build(**TINY)
  logmel = np.zeros((1, 64, 64), np.float32)
  target = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x), logmel)
  # A CNN14 trained at 16 kHz (PANNs' Cnn14_16k: 512-point FFT, 50-8000 Hz) has another melW.
  other = zoo.get_preset("cnn14").torch_reference(width=4, sample_rate=16000, window_size=512,
                                                  hop_size=160, fmax=8000)
  bad = dict(sd, **{k: v for k, v in torch_to_flax.to_numpy_state_dict(other).items()
                    if k.startswith("logmel_extractor")})
  with pytest.raises(torch_to_flax.PortingError, match="logmel_extractor.melW"):
    spec.port(bad, target)
  bad = dict(sd, **{"conv_block2.bn1.running_var": np.ones(3, np.float32)})
  with pytest.raises(torch_to_flax.PortingError, match="conv_block2.bn1.running_var"):
    spec.port(bad, target)
  del sd["fc1.bias"]
  with pytest.raises(torch_to_flax.PortingError, match="fc1.bias"):
    spec.port(sd, target)


def test_checkpoint_layout_model_key(tmp_path):
  """The PANNs training script saves {'model': state_dict, 'iteration': ...}."""
  _, torch_model = _reference(TINY)
  path = tmp_path / "Cnn14_mAP=0.431.pth"
  torch.save({"model": torch_model.state_dict(), "iteration": 600000}, path)
  backbone = zoo.resolve("cnn14", TINY, weights_dir=tmp_path)
  sample = backbone.sample_input()
  variables = backbone.port_file(path, sample)
  assert sample.shape == (1, 101, 64)  # one second at 32 kHz
  want = torch_to_flax.to_numpy_state_dict(torch_model)["conv_block3.conv2.weight"]
  np.testing.assert_array_equal(variables["params"]["conv_block3"]["conv2"]["kernel"],
                                torch_to_flax.conv_kernel(want))


def test_short_input_is_a_clear_error():
  module = zoo.get_preset("cnn14").build(**TINY)
  with pytest.raises(ValueError, match="at least 32 frames"):
    module.init(jax.random.PRNGKey(0), np.zeros((1, 20, 64), np.float32))


@pytest.mark.slow
def test_full_cnn14_parity_and_parameter_count():
  _, torch_model = _reference({})
  trainable = sum(p.numel() for p in torch_model.parameters() if p.requires_grad)
  variables, _, inter, want = _compare({}, _audio(32000))
  assert sum(np.size(v) for v in jax.tree.leaves(variables["params"])) == trainable == 80_753_615
  assert inter["embedding"].shape == (2, 2048)
  assert parity.max_relative_diff(inter["embedding"], want["embedding"].numpy()) <= 1e-5


@pytest.mark.slow  # about 30 s; bf16 is covered per family by the faster CNN tests
def test_bfloat16_compute_is_close_and_trains():
  x = np.asarray(jax.jit(lambda a: recipes.panns_log_mel(a, RATE))(_audio(12000, batch=1)))
  diff, scale, m16, variables = parity.bfloat16_deviation(zoo.get_preset("cnn14"), x, **TINY)
  assert diff <= 0.02 * max(scale, 1.0)
  assert parity.gradients_are_finite(m16, variables, x)


@pytest.mark.slow  # about 37 s on 2 cores
def test_train_mode_dropout_follows_the_preset():
  spec = zoo.get_preset("cnn14")
  backbone = zoo.resolve("cnn14", TINY)
  module = backbone.training_module(cross_replica_bn=False)
  assert (module.block_dropout, module.head_dropout) == (0.2, 0.5)
  x = np.asarray(jax.jit(lambda a: recipes.panns_log_mel(a, RATE))(_audio(12000)))
  variables = jax.jit(spec.build(**TINY).init)(jax.random.PRNGKey(0), x)
  train = jax.jit(lambda k: module.apply(variables, x, train=True, rngs={"dropout": k},
                                         mutable=["batch_stats"])[0][1]["embedding"])
  assert not np.allclose(train(jax.random.PRNGKey(0)), train(jax.random.PRNGKey(1)))
