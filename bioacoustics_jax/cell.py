"""One experiment cell, resolved: (dataset split, Backbone, regime, framework), its key, its files.

experiment.py builds a Cell for every dataset x model x regime and hands it to the JAX path or
the PyTorch baseline (baselines/runner.py); both read the same splits at the same input rate
and batch size, write to the same cache layout and put the same provenance in the embedding
set's metadata, so the two frameworks differ only in the network code that runs.

The cell key is a content hash of everything that changes the cell's embeddings (`key_inputs`):
the split's data fingerprint (its annotation file or audio listing, the class list, the
preparation options such as skip_bad_audio), the Backbone's identity (preset, overrides,
weights file by content hash, code hash), the input rate, the embedding batch size (paper_mel3
divides by the batch maximum) and compute dtype, background handling, the regime, the seed where it matters, and
for fine-tuning the whole training config, the train/valid data and the trainer's code. Caches
live under the key, so a changed input never reuses a cached result and an unchanged one always
does:

    <workdir>/embeddings/<dataset>/<model dir>/<regime>-<key>.npz    the cell's embedding set
    <workdir>/embeddings/<dataset>/<model dir>/<regime>-<key>.json   what the key was made of
    <workdir>/train/<dataset>/<model dir>/<key>/                     its fine-tuning runs
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any

import bioacoustics_jax
from bioacoustics_jax import paths
from bioacoustics_jax import zoo
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.zoo.backbone import source_hash

REGIMES = ("frozen", "finetuned")
TORCH_PREFIX = "torch:"
RANDOM_INITS = ("auto", "torch", "flax")  # config.random_init
# Code a fine-tuned cell's numbers also depend on (beside the backbone's, see zoo.Backbone).
_TRAIN_CODE = ("bioacoustics_jax.train.step", "bioacoustics_jax.train.loop",
               "bioacoustics_jax.train.finetune", "bioacoustics_jax.train.losses",
               "bioacoustics_jax.train.optimizer", "bioacoustics_jax.train.state",
               "bioacoustics_jax.parallel.data_parallel", "bioacoustics_jax.data.augment",
               "bioacoustics_jax.data.pipeline", "bioacoustics_jax.models.classifier")
_TORCH_CODE = ("bioacoustics_jax.baselines.torch_embed", "bioacoustics_jax.baselines.torch_recipes",
               "bioacoustics_jax.baselines.torch_finetune")


def split_model_name(model: str) -> tuple[str, str]:
  """"torch:rn18" -> ("torch", "rn18"); "rn18" -> ("jax", "rn18")."""
  if model.startswith(TORCH_PREFIX):
    return "torch", model[len(TORCH_PREFIX):]
  return "jax", model


def resolve_init(setting: str, model: str, models, backbone: zoo.Backbone) -> str:
  """Where a cell's starting weights come from: "weights" (the preset's file), else the random
  init: "torch" (the torch reference's init at the seed, ported: shared with `torch:` cells,
  baselines/shared_init.py) or "flax" (Flax's own init from `jax.random.key(seed)`).

  `setting` is config.random_init: "auto" shares the init when the run also has the model's
  PyTorch twin (`rn18` beside `torch:rn18`), so a framework comparison compares one network.
  """
  if setting not in RANDOM_INITS:
    raise ValueError(f"--config.random_init={setting!r} is not one of {list(RANDOM_INITS)}.")
  if backbone.preset.weights is not None:
    return "weights"
  framework, name = split_model_name(model)
  if framework == "torch":
    return "torch"
  if setting == "auto":
    return "torch" if f"{TORCH_PREFIX}{name}" in tuple(models) else "flax"
  return setting


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
  data_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # open_split kwargs
  drop_background: bool = False
  embed_batch_size: int = 32
  embed_dtype: str = "float32"  # compute dtype of the extraction (extract.resolve_dtype)
  seed: int = 42
  train: dict[str, Any] | None = None  # config.train as a dict (fine-tuned cells)
  init: str = "flax"  # resolve_init: "weights", "torch" (shared with torch: cells) or "flax"

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

  @functools.cached_property
  def key_inputs(self) -> dict[str, Any]:
    """Everything that changes this cell's embeddings, as JSON-able data."""
    inputs: dict[str, Any] = {
        "version": bioacoustics_jax.__version__,
        "data": _split_identity(self.split, self.drop_background),
        "backbone": self.backbone.identity(),
        "framework": self.framework,
        "input_rate": self.rate,
        "embed_batch_size": self.batch_size,
        "embed_dtype": self.embed_dtype,
        "regime": self.regime,
    }
    if self.framework == "torch":
      inputs["torch_code"] = source_hash(_TORCH_CODE)
    if self.backbone.preset.weights is None or self.regime == "finetuned":
      inputs["seed"] = int(self.seed)  # random init and training draw from it
    if self.framework == "jax" and self.init == "torch":
      # The torch reference's init, ported (absent: Flax's own, so older keys stay valid).
      inputs["init"] = {"from": "torch", "code": source_hash(_TORCH_CODE)}
    if self.regime == "finetuned":
      if self.train is None:
        raise ValueError(f"{self.desc}: a fine-tuned cell needs the training config.")
      inputs["train"] = self.train
      inputs["train_data"] = {s: _split_identity(self.open(s), False) for s in ("train", "valid")}
      inputs["train_code"] = source_hash(_TRAIN_CODE)
    return inputs

  @functools.cached_property
  def key(self) -> str:
    """16 hex digits of sha256 over `key_inputs` (canonical JSON)."""
    text = json.dumps(self.key_inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

  @property
  def embeddings_path(self) -> str:
    return os.path.join(self.workdir, "embeddings", self.dataset, self.model_dir,
                        f"{self.regime}-{self.key}.npz")

  @property
  def key_path(self) -> str:
    return self.embeddings_path[:-len(".npz")] + ".json"

  @property
  def train_dir(self) -> str:
    """Fine-tuning runs live under the training key (the cell key's inputs less the evaluated
    split and the extraction settings): other settings never resume these checkpoints, and the
    test and train split cells of one fine-tuning (probes) share them."""
    training = {k: v for k, v in self.key_inputs.items()
                if k not in ("data", "embed_batch_size", "embed_dtype")}
    key = hashlib.sha256(json.dumps(training, sort_keys=True, default=str).encode()).hexdigest()
    return os.path.join(self.workdir, "train", self.dataset, self.model_dir, key[:16])

  def write_key(self) -> None:
    """Writes what the key was made of beside the embedding set (atomic)."""
    paths.write_text(self.key_path, json.dumps(  # local or a URI
        {"key": self.key, "inputs": self.key_inputs}, indent=1, sort_keys=True, default=str))

  def open(self, split: str) -> pipeline.SplitData:
    """`split` prepared at the model's input rate (once, by the tfds builder: the rate is in
    its config and data fingerprint), so batches need no per-example resampling. Strict data
    (resample_mismatched=False: files at another rate are bad audio) keeps the dataset's rate
    and is resampled per example instead."""
    options = dict(self.data_options)
    if self.rate != self.source_rate and options.get("resample_mismatched", True):
      options["sample_rate"] = self.rate
    return pipeline.open_split(self.dataset, split, data_root=self.data_root, **options)

  @functools.cached_property
  def source_rate(self) -> int:
    """The dataset's own rate (or the config's data.sample_rate), before any preparation."""
    options = {k: v for k, v in self.data_options.items() if k in _SOURCE_OPTIONS}
    source = pipeline.resolve_source(self.dataset, data_root=self.data_root, **options)
    return int(source.info.sample_rate)

  @functools.cached_property
  def split(self) -> pipeline.SplitData:
    """The split whose embeddings are evaluated."""
    return self.open(self.split_name)

  @property
  def rate(self) -> int:
    """The model's input rate for this dataset (decided by the Backbone, nowhere else)."""
    return self.backbone.input_rate(self.source_rate)

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
                split=self.split_name, sample_rate=self.rate, skipped=self.split.skipped,
                cell_key=self.key, embed_batch_size=self.batch_size, init=self.init,
                data_warnings=self.split.warnings, data_origin=self.split.origin)

  @property
  def desc(self) -> str:
    return f"{self.dataset}/{self.model}/{self.regime}"


# The open_split options that say which source (and so which rate) a dataset is.
_SOURCE_OPTIONS = ("cache_dir", "sample_rate", "clip_seconds", "shift_seconds", "seed",
                   "skip_bad_audio", "rules")
_TFDS_CONFIG_FIELDS = ("name", "version", "release_notes", "supported_versions", "description",
                       "tags", "source")


def _split_identity(split: pipeline.SplitData, drop_background: bool) -> dict[str, Any]:
  """The split's own data: its annotation file's fingerprint (so editing the train csv does not
  invalidate test-split cells), the class list (shared by all splits: it sets the label
  indices), the rate, the example count and every preparation option of the builder."""
  builder = split.builder
  config = builder.builder_config
  source = config.source
  split_file = source.split_files.get(split.split)
  return {"dataset": split.info.name, "split": split.split,
          "fingerprint": (catalog.fingerprint_files([split_file]) if split_file
                          else source.fingerprint),
          "format": source.format, "class_names": list(split.info.class_names),
          "sample_rate": split.info.sample_rate, "builder": f"{builder.name}/{builder.version}",
          "options": {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                      if f.name not in _TFDS_CONFIG_FIELDS},
          "num_examples": int(split.num_examples), "drop_background": bool(drop_background)}
