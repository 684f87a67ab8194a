"""The folded stem (models/stem.py) equals the 3-channel network in value and gradient, keeps
the parameters of the unfolded one, and is fed by the recipes that repeat one channel
(audio/recipes/channels.py), which are found from the recipes' outputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.models import resnet
from bioacoustics_jax.models import stem
from bioacoustics_jax.models import torch_compatible_layers as tl


def _mel(shape=(4, 32, 24, 1), seed=0):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


def test_stem_conv_folded_equals_the_three_channel_convolution():
  conv = stem.StemConv(5, 7, 2, padding=3, in_channels=3)
  one = _mel()
  three = jnp.repeat(one, 3, axis=-1)
  params = conv.init(jax.random.key(1), three)
  assert params["params"]["kernel"].shape == (7, 7, 3, 5)
  # The same parameters whichever input initialises them (ported weights fit both forms).
  assert jax.tree.map(jnp.shape, conv.init(jax.random.key(1), one)) == jax.tree.map(
      jnp.shape, params)
  np.testing.assert_array_equal(conv.init(jax.random.key(1), one)["params"]["kernel"],
                                params["params"]["kernel"])
  # And a plain nn.Conv's kernel (same name, shape, init) computes the unfolded form.
  plain = tl.torch_conv(5, 7, 2, padding=3)
  want = plain.apply(params, three)
  np.testing.assert_allclose(conv.apply(params, one), want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(conv.apply(params, three), want, rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="2 channels"):
    conv.apply(params, jnp.ones((1, 8, 8, 2)))
  # The same gradient for the kernel (the chain rule through the channel sum): every channel's
  # slice gets what the 3-channel convolution gives it.
  cotangent = jax.random.normal(jax.random.key(2), want.shape)
  grad = lambda x: jax.grad(lambda p: jnp.sum(conv.apply(p, x) * cotangent))(params)
  np.testing.assert_allclose(grad(one)["params"]["kernel"], grad(three)["params"]["kernel"],
                             rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # ~55 s on 2 cores; the stem conv's own value and gradient test is fast
def test_resnet_folded_equals_unfolded_forward_and_gradients():
  model = resnet.build("resnet18", width=4, num_classes=6)
  one = _mel()
  three = jnp.repeat(one, 3, axis=-1)
  variables = model.init(jax.random.key(0), three)
  labels = jnp.arange(4) % 6

  def loss(params, x):
    (logits, _), _ = model.apply({**variables, "params": params}, x, train=True,
                                 mutable=["batch_stats"])
    return jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), labels])

  # Equal up to float32 rounding (the channel sum happens in the kernel, not in the products):
  # eval mode closely; train-mode BN over 4 rows of a width-4 net divides by small batch
  # variances, which magnifies the rounding in the gradients.
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               model.apply(variables, one), model.apply(variables, three))
  g1 = jax.grad(loss)(variables["params"], one)
  g3 = jax.grad(loss)(variables["params"], three)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3), g1, g3)
  # Each channel's kernel gets the same gradient (their inputs are identical).
  k = g1["conv1"]["kernel"]
  np.testing.assert_allclose(k[:, :, 0], k[:, :, 2], rtol=1e-6, atol=1e-7)


def test_which_recipes_repeat_a_channel_is_computed():
  paper = recipes.get_recipe("paper_mel3")
  assert recipes.repeated_channels(paper) == 3
  assert recipes.repeated_channels(recipes.get_recipe("vggish_logmel")) == 1  # [B, n, 96, 64, 1]
  audio = jax.random.normal(jax.random.key(3), (2, 8000))
  one = recipes.folded(paper)
  assert one.name == paper.name and one.uses_batch_statistics
  np.testing.assert_array_equal(one.prepare(audio, 8000), paper.prepare(audio, 8000)[..., :1])
  assert recipes.folded(recipes.get_recipe("waveform16k")) is recipes.get_recipe("waveform16k")


def test_backbone_feeds_the_folded_stem_the_channel_once():
  rn18 = zoo.resolve("rn18", {"width": 4})
  assert rn18.model_recipe.prepare(jnp.zeros((1, 8000)), 8000).shape[-1] == 1
  assert rn18.recipe.prepare(jnp.zeros((1, 8000)), 8000).shape[-1] == 3
  vgg = zoo.resolve("vggish")
  assert vgg.model_recipe is vgg.recipe
