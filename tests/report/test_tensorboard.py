"""Evaluation scalars and HParams read back from the event files TensorBoard would load."""

import math

import ml_collections
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from bioacoustics_jax.report import tensorboard as tb


def _rows():
  base = dict(dataset="synth_birds", model="torch:rn18", regime="finetuned", split="test",
              ami=0.3, silhouette=math.nan, accuracy=0.5, n_clusters=8)
  return [dict(base, reducer="umap", clusterer="kmeans", ari=0.25, nmi=0.5),
          dict(base, reducer="pca", clusterer="hdbscan", ari=0.1, nmi=0.2)]


def test_write_cell_scalars_and_hparams(tmp_path):
  config = ml_collections.ConfigDict(dict(seed=1, models=("rn18",), train=dict(lr=1e-3)))
  logdir = tb.write_cell(str(tmp_path), config, _rows())
  assert logdir == str(tmp_path / "tensorboard" / "synth_birds" / "torch-rn18" / "finetuned")
  acc = event_accumulator.EventAccumulator(logdir, size_guidance={"tensors": 0})
  acc.Reload()
  tags = set(acc.Tags()["tensors"])
  assert {"eval/umap+kmeans/nmi", "eval/pca+hdbscan/ari"} <= tags
  assert "eval/umap+kmeans/silhouette" not in tags  # NaN scores are left out
  (event,) = acc.Tensors("eval/umap+kmeans/nmi")
  assert abs(float(tf.make_ndarray(event.tensor_proto)) - 0.5) < 1e-6
  content = acc.PluginTagToContent("hparams")
  start = plugin_data_pb2.HParamsPluginData.FromString(
      content["_hparams_/session_start_info"]).session_start_info
  hparams = {k: v.string_value or v.number_value or v.bool_value for k, v in start.hparams.items()}
  assert hparams["model"] == "torch:rn18" and hparams["regime"] == "finetuned"
  assert hparams["train.lr"] == 1e-3 and hparams["models"] == "('rn18',)"
