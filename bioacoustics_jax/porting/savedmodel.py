"""A TF SavedModel's variables as {path: numpy array}, read without loading its graph.

The Perch models ship as SavedModels exported from JAX by chirp's `Jax2TfModelWrapper`
(chirp/export_utils.py): a tf.Module holding `_structured_variables = tf.nest.map_structure(
tf.Variable, variables)` (the Flax `{"params": ..., "batch_stats": ...}` tree) and the same
variables flattened into the list `_variables`, next to a jax2tf graph (an XlaCallModule op).
Loading that graph with `tf.saved_model.load` needs a TF whose XLA accepts the module's
version (perch-hoplite issues #35, #133); the variables alone do not. They sit in the
TensorBundle `<dir>/variables/variables.{index,data-*}`, read here with TF's checkpoint reader
(the C++ bundle reader: no graph, no XLA). Bundle keys name the object-graph path by which each
variable was first reached (`_variables/17/.ATTRIBUTES/VARIABLE_VALUE`, since the list is
shallower than the tree); the checkpoint's object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) also
records the tree path of the same node, which is the name we return:
`params/embedding_model/backbone/Stem_0/Conv_0/kernel`.
"""

from __future__ import annotations

import collections
import hashlib
import os
import pathlib
from typing import Iterable

import numpy as np

STRUCTURED = "_structured_variables"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VALUE = "VARIABLE_VALUE"


class SavedModelError(ValueError):
  """A folder is not a SavedModel with the variable layout the porter reads."""


def bundle_prefix(directory: str | os.PathLike) -> pathlib.Path:
  return pathlib.Path(directory).expanduser() / "variables" / "variables"


def is_savedmodel(path: str | os.PathLike) -> bool:
  """True for a folder holding a SavedModel's variables (`variables/variables.index`)."""
  return pathlib.Path(str(bundle_prefix(path)) + ".index").is_file()


def bundle_files(directory: str | os.PathLike) -> list[pathlib.Path]:
  """The variable files (index and data shards) that decide the variables' values, sorted."""
  prefix = bundle_prefix(directory)
  return sorted(prefix.parent.glob(prefix.name + ".*"))


def sha256_of_bundle(directory: str | os.PathLike, chunk: int = 1 << 20) -> str:
  """sha256 over the variable files' names and bytes (what a cell key needs to know)."""
  digest = hashlib.sha256()
  for path in bundle_files(directory):
    digest.update(path.name.encode())
    with open(path, "rb") as f:
      while block := f.read(chunk):
        digest.update(block)
  return digest.hexdigest()


def _tree_paths(nodes, root_child: str) -> dict[int, str]:
  """Node id -> its path below the root's child `root_child` (breadth first: shortest)."""
  start = [c.node_id for c in nodes[0].children if c.local_name == root_child]
  if not start:
    return {}
  paths = {start[0]: ""}
  queue = collections.deque(start)
  while queue:
    node = queue.popleft()
    for child in nodes[node].children:
      if child.node_id not in paths:
        paths[child.node_id] = (paths[node] + "/" if paths[node] else "") + child.local_name
        queue.append(child.node_id)
  return paths


def read_variables(directory: str | os.PathLike,
                   root_child: str = STRUCTURED) -> dict[str, np.ndarray]:
  """{tree path: array} of every variable of the SavedModel at `directory`.

  Args:
    directory: the SavedModel folder (holding saved_model.pb and variables/).
    root_child: the root attribute whose tree names the variables; chirp's exports hold
      them as `_structured_variables`.

  Raises:
    FileNotFoundError: no `variables/variables.index` under `directory`.
    SavedModelError: no object graph, no `root_child` tree, or variables outside the tree.
  """
  if not is_savedmodel(directory):
    raise FileNotFoundError(
        f"{directory} is not a SavedModel folder: {bundle_prefix(directory)}.index is missing "
        "(the folder the Kaggle/TF Hub archive unpacks to holds saved_model.pb and variables/).")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import trackable_object_graph_pb2  # pylint: disable=g-import-not-at-top
  reader = tf.train.load_checkpoint(str(bundle_prefix(directory)))
  keys = reader.get_variable_to_shape_map()
  if OBJECT_GRAPH_KEY not in keys:
    raise SavedModelError(f"{directory}: the variables carry no object graph "
                          f"({OBJECT_GRAPH_KEY}); not a TF2 SavedModel.")
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY))
  paths = _tree_paths(graph.nodes, root_child)
  if not paths:
    raise SavedModelError(
        f"{directory}: its root object has no {root_child!r}, so the variables have no "
        f"names (root children: {sorted(c.local_name for c in graph.nodes[0].children)}); it "
        "was not exported by chirp's Jax2TfModelWrapper.")
  out, outside = {}, []
  for node_id, node in enumerate(graph.nodes):
    for attribute in node.attributes:
      if attribute.name != _VALUE:
        continue
      if node_id not in paths:
        outside.append(attribute.checkpoint_key)
        continue
      out[paths[node_id]] = np.asarray(reader.get_tensor(attribute.checkpoint_key))
  if outside:
    raise SavedModelError(f"{directory}: {len(outside)} variables are not under "
                          f"{root_child!r} (e.g. {outside[:3]}); cannot name them.")
  return out

