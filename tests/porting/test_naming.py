"""Flax module names -> torch keys, and strictness of the CNN porters."""

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import torch_to_flax


@pytest.mark.parametrize("flax_name,torch_name", [
    ("layer1_0", "layer1.0"), ("features_1_0", "features.1.0"), ("block_3", "block.3"),
    ("downsample_conv", "downsample_conv"), ("bn1", "bn1"), ("classifier_6", "classifier.6")])
def test_torch_module_name(flax_name, torch_name):
  assert naming.torch_module_name(flax_name) == torch_name


def test_dotted_rule_with_renames():
  rule = naming.dotted_rule({"downsample_bn": "downsample.1"})
  key, _ = rule(("batch_stats", "layer2_0", "downsample_bn", "var"))
  assert key == "layer2.0.downsample.1.running_var"
  key, transform = rule(("params", "fc", "kernel"))
  assert key == "fc.weight" and transform(np.zeros((3, 5))).shape == (5, 3)


@pytest.mark.parametrize("name,overrides,shape", [
    ("resnet50", {"width": 8, "num_classes": 7}, (1, 32, 32, 3)),
    ("vgg16", {"width": 8, "hidden": 16, "num_classes": 7}, (1, 32, 32, 3)),
    ("efficientnet_b0", {"width_mult": 0.25, "depth_mult": 0.34, "num_classes": 7},
     (1, 32, 32, 3)),
    ("vggish", {"width": 8, "hidden": 16}, (1, 1, 96, 64, 1))])
def test_porters_reject_missing_extra_and_misshaped_tensors(name, overrides, shape):
  spec = zoo.get_preset(name)
  sd = torch_to_flax.to_numpy_state_dict(spec.torch_reference(**overrides))
  target = jax.eval_shape(lambda x: spec.build(**overrides).init(jax.random.PRNGKey(0), x),
                          np.zeros(shape, np.float32))
  spec.port(sd, target)  # the untouched state_dict ports
  first = next(iter(sd))
  broken = dict(sd)
  broken[first] = np.zeros((1,) + broken[first].shape)
  broken["unexpected.weight"] = np.zeros(3)
  last = [k for k in sd if not k.endswith("num_batches_tracked")][-1]
  del broken[last]
  with pytest.raises(torch_to_flax.PortingError) as err:
    spec.port(broken, target)
  message = str(err.value)
  assert first in message and "unexpected.weight" in message and last in message


def test_randomize_norms_changes_every_norm_tensor():
  spec = zoo.get_preset("resnet18")
  model = parity.randomize_norms(spec.torch_reference(width=8), seed=0)
  bn = model.layer1[0].bn2
  assert not np.allclose(bn.weight.detach().numpy(), 1.0)
  assert not np.allclose(bn.running_var.numpy(), 1.0)
