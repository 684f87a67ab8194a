"""The Perch porter on a SavedModel written the way the official export writes it.

chirp/export_utils.py `Jax2TfModelWrapper` (what exported Perch v1, SurfPerch and Perch 2.0)
holds `_structured_variables = tf.nest.map_structure(tf.Variable, variables)` (the Flax
`{"params", "batch_stats"}` tree of chirp's model) and `_variables = tf.nest.flatten(...)`, and
a `jax2tf.convert(infer_fn, enable_xla=True, polymorphic_shapes=["(b,_)", None])` function of
(inputs, variables) under `tf.function(jit_compile=True)`, saved with `tf.saved_model.save`.
`_export` below does the same with a tiny TFEfficientNet in chirp's settings, its variables
renamed into chirp's module names (`Stem_0`, `MBConv_<n>/ExpandConv`, ...; written out here
from chirp/models/efficientnet.py and layers.py independently of the porter) under Perch 2.0's
`embedding_model/backbone` prefix, with one classifier-head variable beside it.

Checked: the porter reads the variables without `tf.saved_model.load` and returns exactly the
exported arrays (bit for bit) and the classifier head is left out (default suite: the export's
object layout with a plain signature); with the jax2tf graph as chirp exports it (slow suite),
the ported model's embedding equals the exported graph's own output (that graph is run with
tf.saved_model.load, as a reference only). Not checkable without the real files: that the
Kaggle SavedModels hold their variables under `_structured_variables` with the backbone at a
single `.../Stem_0` prefix (the export code says so; a different layout fails with a message
naming what was found), the real front end's constants and the block activation (compiled
into the graph, not stored as variables), and the real parameter values' numerics.
"""

import os

import flax
import jax
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bioacoustics_jax import zoo  # noqa: E402
from bioacoustics_jax.models import efficientnet  # noqa: E402
from bioacoustics_jax.porting import efficientnet_tf  # noqa: E402
from bioacoustics_jax.porting import load  # noqa: E402
from bioacoustics_jax.porting import savedmodel  # noqa: E402
from bioacoustics_jax.porting import torch_to_flax  # noqa: E402

TINY = {"width_mult": 0.25, "depth_mult": 0.34, "in_channels": 1, "stem_padding": "valid",
        "epsilon": 1e-5, "block_act": "relu"}
PREFIX = ("embedding_model", "backbone")
_ROLE_LAYERS = {"expand": ("ExpandConv", "ExpandBatchNorm"),
                "depthwise": ("DepthwiseConv", "DepthwiseBatchNorm"),
                "project": ("ProjectConv", "ProjectBatchNorm")}


def _chirp_name(path, numbers, expanded):
  """Our leaf path -> chirp's (collection, *module path, leaf), and whether it is an SE kernel."""
  collection, module, *rest = path
  if module == "features_0" or module not in numbers:
    top = "Stem_0" if module == "features_0" else "Head_0"
    layer = "Conv_0" if rest[0] == "conv" else "BatchNorm_0"
    return (collection, *PREFIX, top, layer, rest[-1]), False
  block, layer, leaf = rest
  roles = ("expand", "depthwise", "se", "project")[(0 if module in expanded else 1):]
  role = roles[int(block.split("_")[1])]
  mbconv = f"MBConv_{numbers[module]}"
  if role == "se":
    dense = "Reduce" if layer == "fc1" else "Expand"
    return (collection, *PREFIX, mbconv, "SqueezeAndExcitation_0", dense, leaf), leaf == "kernel"
  name = _ROLE_LAYERS[role][0 if layer == "conv" else 1]
  return (collection, *PREFIX, mbconv, name, leaf), False


def _to_chirp(variables):
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
  numbers, expanded = _blocks_of(flat)
  out = {}
  for path, value in flat.items():
    name, se_kernel = _chirp_name(path, numbers, expanded)
    out[name] = value.reshape(value.shape[2:]) if se_kernel else value
  return out


def _randomised(module, x, seed=0):
  """Random variables of `module`'s shapes (no compile: eval_shape), BN variances positive."""
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_map_with_path(
      lambda p, v: (rng.uniform(0.5, 1.5, v.shape) if p[-1].key in ("scale", "var")
                    else 0.2 * rng.standard_normal(v.shape)).astype(np.float32), shapes)


def _export(module, variables, directory, head, graph: bool):
  """A SavedModel as chirp's Jax2TfModelWrapper writes it (see the module docstring); without
  `graph`, the same object layout and variables with a plain tf.function signature instead of
  the jax2tf-converted model (the porter reads only the variables)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  chirp = _to_chirp(variables)
  chirp[("params", "heads_label", "kernel")] = head
  tree = flax.traverse_util.unflatten_dict(chirp)
  wrapper = tf.Module()
  wrapper._structured_variables = tf.nest.map_structure(tf.Variable, tree)  # pylint: disable=protected-access
  wrapper._variables = tf.nest.flatten(wrapper._structured_variables)  # pylint: disable=protected-access
  shape = (None,) + tuple(module_input_shape())
  if graph:
    from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
    ours = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
    names = {path: _chirp_name(path, *_blocks_of(ours)) for path in ours}

    def infer_fn(inputs, tree):
      flat = flax.traverse_util.flatten_dict(tree)
      mine = {p: flat[n].reshape(ours[p].shape) if se else flat[n]
              for p, (n, se) in names.items()}
      return {"embedding": module.apply(flax.traverse_util.unflatten_dict(mine), inputs)[0]}

    converted = jax2tf.convert(infer_fn, enable_xla=True, with_gradient=False,
                               polymorphic_shapes=["(b,_,_,_)", None])
    function = lambda x: converted(x, wrapper._structured_variables)  # pylint: disable=protected-access  # noqa: E731
  else:
    function = lambda x: {"embedding": tf.reduce_mean(x, axis=(1, 2, 3))}  # noqa: E731
  wrapper.infer_tf = tf.function(function, jit_compile=graph,
                                 input_signature=[tf.TensorSpec(shape)])
  concrete = wrapper.infer_tf.get_concrete_function(tf.zeros((1,) + shape[1:]))
  tf.saved_model.save(wrapper, str(directory), signatures=concrete)


def _blocks_of(flat):
  blocks = sorted({p[1] for p in flat if p[1].count("_") == 2},
                  key=lambda m: tuple(int(i) for i in m.split("_")[1:]))
  numbers = {m: n for n, m in enumerate(blocks)}
  return numbers, {p[1] for p in flat if p[1] in numbers and p[2] == "block_3"}


def module_input_shape():
  return (40, 32, 1)


def _round_trip(tmp_path, graph):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module = efficientnet.TFEfficientNet(**TINY)
  x = np.random.default_rng(3).standard_normal((2,) + module_input_shape()).astype(np.float32)
  variables = _randomised(module, x)
  head = np.random.default_rng(4).standard_normal((16, 10)).astype(np.float32)
  _export(module, variables, tmp_path / "perch", head, graph)

  # The bundle is keyed like the official export's: by the flat list, not by name.
  reader = tf.train.load_checkpoint(str(savedmodel.bundle_prefix(tmp_path / "perch")))
  keys = set(reader.get_variable_to_shape_map())
  assert "_variables/0/.ATTRIBUTES/VARIABLE_VALUE" in keys
  assert not any("Stem_0" in k for k in keys)

  read = load.load_state_dict(tmp_path / "perch")  # a folder: the SavedModel reader
  assert "params/heads_label/kernel" in read
  assert "batch_stats/embedding_model/backbone/Stem_0/BatchNorm_0/mean" in read
  target = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  ported = efficientnet_tf.port_chirp(read, target)
  jax.tree.map(np.testing.assert_array_equal, ported, variables)
  return module, ported, x


def test_porter_round_trips_a_chirp_export(tmp_path):
  _, ported, _ = _round_trip(tmp_path, graph=False)
  # The zoo's own path: preset perch2 (chirp's settings, as TINY) finds the folder by its
  # weights name, ports it in init_variables and keys cells on the variables' sha256.
  (tmp_path / "perch").rename(tmp_path / "perch_v2")
  backbone = zoo.resolve("perch2", {"width_mult": 0.25, "depth_mult": 0.34},
                         weights_dir=tmp_path)
  backbone.check_weights()
  jax.tree.map(np.testing.assert_array_equal,
               jax.tree.map(np.asarray, backbone.init_variables(jax.random.key(0))), ported)
  weights = backbone.identity()["weights"]
  assert weights["sha256"] == savedmodel.sha256_of_bundle(tmp_path / "perch_v2")
  with pytest.raises(load.MissingWeightsError, match="perch_v2"):
    zoo.resolve("perch2", weights_dir=tmp_path / "elsewhere").check_weights()


@pytest.mark.slow  # jax2tf conversion, saving and loading the XLA graph: minutes on 2 cores
def test_ported_model_equals_the_exported_graph(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module, ported, x = _round_trip(tmp_path, graph=True)
  embedding = jax.jit(module.apply)(ported, x)[0]
  exported = tf.saved_model.load(str(tmp_path / "perch"))  # the graph: reference only
  np.testing.assert_allclose(embedding, exported.signatures["serving_default"](
      tf.constant(x))["embedding"].numpy(), rtol=1e-5, atol=1e-6)


def test_strict_and_clear_errors(tmp_path):
  module = efficientnet.TFEfficientNet(**TINY)
  x = np.zeros((1,) + module_input_shape(), np.float32)
  target = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  chirp = {"/".join(k): np.asarray(v) for k, v in _to_chirp(_randomised(module, x)).items()}
  efficientnet_tf.port_chirp(chirp, target)
  missing = dict(chirp)
  missing.pop("params/embedding_model/backbone/MBConv_1/ProjectConv/kernel")
  with pytest.raises(torch_to_flax.PortingError, match="MBConv_1/ProjectConv/kernel"):
    efficientnet_tf.port_chirp(missing, target)
  extra = dict(chirp, **{"params/embedding_model/backbone/MBConv_99/ProjectConv/kernel":
                         np.zeros(1)})
  with pytest.raises(torch_to_flax.PortingError, match="MBConv_99"):
    efficientnet_tf.port_chirp(extra, target)
  with pytest.raises(torch_to_flax.PortingError, match="one EfficientNet backbone"):
    efficientnet_tf.port_chirp({"params/x/kernel": np.zeros(1)}, target)
  with pytest.raises(FileNotFoundError, match="variables.index"):
    savedmodel.read_variables(tmp_path)
