"""One experiment cell, resolved: (dataset split, Backbone, regime, framework) and its files.

experiment.py builds a Cell for every dataset x model x regime and hands it to the JAX path or
the PyTorch baseline (baselines/runner.py); both read the same splits at the same input rate
and batch size, write to the same cache layout and put the same provenance in the embedding
set's metadata, so the two frameworks differ only in the network code that runs.

    <workdir>/embeddings/<dataset>/<model dir>/<regime>.npz   the cell's embedding set
    <workdir>/train/<dataset>/<model dir>/                    its fine-tuning runs
"""

from __future__ import annotations

import dataclasses
import functools
import os

from bioacoustics_jax import zoo
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.embed import extract as extract_lib

REGIMES = ("frozen", "finetuned")
TORCH_PREFIX = "torch:"


def split_model_name(model: str) -> tuple[str, str]:
  """"torch:rn18" -> ("torch", "rn18"); "rn18" -> ("jax", "rn18")."""
  if model.startswith(TORCH_PREFIX):
    return "torch", model[len(TORCH_PREFIX):]
  return "jax", model


@dataclasses.dataclass(eq=False)
class Cell:
  """A cell of the grid. `model` is the name as written in the config (`rn18`, `torch:rn18`)."""

  dataset: str
  model: str
  regime: str
  backbone: zoo.Backbone
  workdir: str
  data_root: str
  split_name: str = "test"
  skip_bad_audio: bool = False
  drop_background: bool = False
  embed_batch_size: int = 32

  def __post_init__(self):
    if self.regime not in REGIMES:
      raise ValueError(f"Unknown regime {self.regime!r}; known: {list(REGIMES)}")

  @property
  def framework(self) -> str:
    return split_model_name(self.model)[0]

  @property
  def model_dir(self) -> str:
    """Folder name for the model's files: "torch:rn18" -> "torch-rn18" (no ':' in paths)."""
    return self.model.replace(":", "-")

  @property
  def embeddings_path(self) -> str:
    return os.path.join(self.workdir, "embeddings", self.dataset, self.model_dir,
                        f"{self.regime}.npz")

  @property
  def train_dir(self) -> str:
    return os.path.join(self.workdir, "train", self.dataset, self.model_dir)

  def open(self, split: str) -> pipeline.SplitData:
    return pipeline.open_split(self.dataset, split, data_root=self.data_root,
                               skip_bad_audio=self.skip_bad_audio)

  @functools.cached_property
  def split(self) -> pipeline.SplitData:
    """The split whose embeddings are evaluated."""
    return self.open(self.split_name)

  @property
  def rate(self) -> int:
    """The model's input rate for this dataset (decided by the Backbone, nowhere else)."""
    return self.backbone.input_rate(self.split.info.sample_rate)

  @property
  def batch_size(self) -> int:
    """Extraction batch, rounded up to a multiple of the local device count (both frameworks
    use it, so paper_mel3's batch maximum sees the same rows)."""
    return extract_lib.batch_size_for_devices(int(self.embed_batch_size))

  def batches(self):
    return self.split.numpy_batches(batch_size=self.batch_size, sample_rate=self.rate,
                                    drop_background=self.drop_background)

  def num_batches(self) -> int:
    return self.split.num_batches(self.batch_size, drop_background=self.drop_background)

  def meta(self) -> dict:
    """Provenance stored in the embedding set."""
    return dict(dataset=self.dataset, model=self.model, regime=self.regime,
                split=self.split_name, sample_rate=self.rate, skipped=self.split.skipped)

  @property
  def desc(self) -> str:
    return f"{self.dataset}/{self.model}/{self.regime}"
