"""TFEfficientNet (models/efficientnet.py, TF conventions) against Keras's EfficientNet.

The reference is `keras.applications` EfficientNet built with `weights=None` (random init; BN
scale, offset and moving statistics randomised so they matter), ported by
porting/efficientnet_tf.py `port_keras`; the pooled embedding must agree within 1e-5 relative.
Default suite: a tiny width (0.25 / 0.34, 1 channel, an odd and an even side so both TF-'SAME'
stride-2 paddings run); slow suite: the full B3 with Keras's published parameter count.

Every difference between chirp's EfficientNet (the Perch backbones) and Keras's, and what the
Flax module does about it (a field, set per preset in zoo/presets_perch.py):
  1. Stem padding: chirp's Stem convolves 'VALID' (no padding; 63 x 249 rows for a 128 x 500
     input), Keras pads TF-'SAME' (ZeroPadding2D(correct_pad) + 'valid': 64 x 250).
     -> `stem_padding` ("valid" / "tf"); the depthwise stride-2 padding is TF-'SAME' in both.
  2. BatchNorm epsilon: chirp uses flax.linen.BatchNorm's default 1e-5, Keras 1e-3 (momentum
     0.99 in both). -> `epsilon`.
  3. Block activation: Keras uses swish everywhere; chirp's EfficientNet since 2024-02
     (`OpSet` "default") uses ReLU in the MBConv blocks and their squeeze-excitation and swish
     only in stem and head (before: swish everywhere). -> `block_act`.
  4. Squeeze-excitation layers: chirp's are Dense on the pooled vector ([C, S] kernels), Keras's
     1x1 convolutions ([1, 1, C, S]): the same arithmetic; the porter reshapes.
  5. Input: Keras rescales by 1/255 and applies a Normalization layer (mean 0, variance 1 with
     weights=None, i.e. the identity); chirp takes the spectrogram as it is. The test feeds
     Keras 255 x the input and checks the Normalization is the identity.
  6. Stochastic depth (training only): chirp drops each non-first block of a stage with a
     fixed 0.2, Keras and this module drop residual blocks with 0.2 * i / n. Eval is unaffected.
  7. Running variance (training only): this module's BatchNorm updates it with the unbiased
     batch variance (torch's rule, models/torch_layers.py), Keras and Flax with the biased one,
     a factor n / (n - 1) with n = batch x height x width.
"""

import os

import jax
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bioacoustics_jax.models import efficientnet  # noqa: E402
from bioacoustics_jax.porting import efficientnet_tf  # noqa: E402
from bioacoustics_jax.porting import parity  # noqa: E402
from tests.models import parity_registry  # noqa: E402

parity_registry.PARITY_TESTED.update({"chirp_efficientnet_b1", "chirp_efficientnet_b3"})

TINY = {"width_mult": 0.25, "depth_mult": 0.34}


def keras_efficientnet(width, depth, shape, seed=0):
  """Keras's EfficientNet (no top, weights=None) with randomised BN and SE biases."""
  import keras  # pylint: disable=g-import-not-at-top
  from keras.src.applications import efficientnet as keras_efficientnet_lib  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(seed)
  model = keras_efficientnet_lib.EfficientNet(width, depth, max(shape[:2]), weights=None,
                                              include_top=False, input_shape=shape)
  rng = np.random.default_rng(seed)
  for v in model.weights:
    name = v.path.rsplit("/", 1)[-1]
    if v.path.startswith("normalization/"):
      continue
    if name in ("gamma", "moving_variance"):
      v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
    elif name in ("beta", "moving_mean", "bias"):
      v.assign(rng.uniform(-0.2, 0.2, v.shape).astype(np.float32))
  return model


def ported(model, module, x):
  weights = {v.path: np.asarray(v.numpy()) for v in model.weights}
  # Keras numbers auto-named layers per session (`normalization_1` for a second model).
  norm = {k.split("/")[1]: weights.pop(k) for k in list(weights)
          if k.startswith("normalization")}
  np.testing.assert_array_equal(norm["mean"], 0.0)  # difference 5: the identity
  np.testing.assert_array_equal(norm["variance"], 1.0)
  target = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  return efficientnet_tf.port_keras(weights, target)


def compare(width, depth, shape, batch=2):
  module = efficientnet.TFEfficientNet(width_mult=width, depth_mult=depth,
                                       in_channels=shape[-1])
  model = keras_efficientnet(width, depth, shape)
  x = np.random.default_rng(1).standard_normal((batch,) + shape).astype(np.float32)
  variables = ported(model, module, x)
  embedding, inter = jax.jit(module.apply)(variables, x)
  expected = np.asarray(model(x * 255.0, training=False)).mean(axis=(1, 2))
  assert inter["feature_map"].shape[1:3] == model.output.shape[1:3]
  return module, model, variables, embedding, expected


def test_tiny_matches_keras():
  _, model, variables, embedding, expected = compare(TINY["width_mult"], TINY["depth_mult"],
                                                     (45, 64, 1))
  assert parity.max_relative_diff(embedding, expected) <= 1e-5
  ours = sum(np.size(v) for v in jax.tree.leaves(variables))
  assert ours == model.count_params() - 3  # Keras's Normalization: mean, variance, count


def test_chirp_stem_is_valid():
  """Difference 1 on the stem unit alone: 'SAME' pads the even sides at the bottom/right only,
  so its first 24 x 15 windows are 'VALID''s (up to the BN epsilon, difference 2)."""
  x = np.random.default_rng(0).standard_normal((1, 50, 32, 1)).astype(np.float32)
  same = efficientnet.ConvBNAct(8, 3, 2, padding="tf", norm=efficientnet.KERAS_NORM)
  valid = same.clone(padding="valid", norm=efficientnet.FLAX_NORM)
  variables = same.init(jax.random.PRNGKey(0), x, False)
  y_same, y_valid = same.apply(variables, x, False), valid.apply(variables, x, False)
  assert y_same.shape[1:3] == (25, 16) and y_valid.shape[1:3] == (24, 15)
  np.testing.assert_allclose(y_same[:, :24, :15], y_valid, rtol=2e-3, atol=1e-4)
  assert not np.allclose(y_same[:, -1], 0.0)  # the padded last row is there and not empty


@pytest.mark.slow  # two more compiles of the network: ~1 min on 2 cores
def test_windows_are_embedded_one_by_one_and_averaged():
  module = efficientnet.TFEfficientNet(**TINY)
  x = np.random.default_rng(0).standard_normal((2, 3, 32, 24, 1)).astype(np.float32)
  variables = jax.jit(module.init)(jax.random.PRNGKey(0), x)
  apply = jax.jit(lambda v, x: module.apply(v, x)[0])
  whole = apply(variables, x)
  one_by_one = np.stack([apply(variables, x[:, w]) for w in range(3)], 1).mean(1)
  np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("width,depth,params", [(1.2, 1.4, 10_783_535), (1.0, 1.1, 6_575_239)])
def test_full_size_matches_keras(width, depth, params):
  """Full B3 / B1 at 3 channels: Keras's published no-top counts (B3 10,783,535, verified
  with keras 3.15: EfficientNetB3(weights=None, include_top=False).count_params())."""
  module, model, variables, embedding, expected = compare(width, depth, (96, 80, 3), batch=1)
  assert model.count_params() == params
  assert sum(np.size(v) for v in jax.tree.leaves(variables)) == params - 7
  assert parity.max_relative_diff(embedding, expected) <= 1e-5
  del module
