"""One experiment cell: (dataset split, Backbone, regime, framework), its key and its files.

grid.py builds a Cell for every dataset x model x regime; `cell.opened()` opens its splits once
(the evaluated split, and train and valid for fine-tuning: the data work is there and only
there) and computes its key from them; store.py loads or computes its embedding set with the
module `RUNNERS` names for its framework and regime. The JAX and PyTorch cells read the same
splits at the same input rate and batch size, write to the same cache layout and put the same
provenance in the embedding set's metadata, so the two frameworks differ only in the network code
that runs.

The cell key is a content hash of everything that changes the cell's embeddings (`key_inputs`):
the split's data fingerprint (its annotation file or audio listing, the class list, the
preparation options such as skip_bad_audio), the Backbone's identity (preset, overrides,
weights file by content hash), the input rate, the embedding batch size (paper_mel3 divides by
the batch maximum) and compute dtype, background handling, the regime, the seed where it
matters, for fine-tuning the whole training config and the train/valid data, and the code: every
package module upstream of the embeddings, computed from the imports of the cell's runner and the
preset's import paths (`code_entries`, source_code.py), never listed by hand. Caches live under
the key, so a changed input never reuses a cached result and an unchanged one always does:

    <cache_dir>/embeddings/<dataset>/<model dir>/<regime>-<key>.npz    the cell's embedding set
    <cache_dir>/embeddings/<dataset>/<model dir>/<regime>-<key>.json   what the key was made of
    <cache_dir>/train/<dataset>/<model dir>/<key>/                     its fine-tuning runs
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
from bioacoustics_jax import source_code
from bioacoustics_jax import zoo
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import split_classes
from bioacoustics_jax.embed import extract as extract_lib

REGIMES = ("frozen", "finetuned")
TORCH_PREFIX = "torch:"
RANDOM_INITS = ("auto", "torch", "flax")  # config.random_init
_CELLS = "bioacoustics_jax.cells."
# The module that computes each kind of cell, one interface: `embeddings(cell, config)` and
# `COLLECTIVE` (every process takes part, or process 0 alone). Named here, imported by store.py
# only when such a cell runs (a JAX-only run never imports torch); the cell key hashes the code
# upstream of it.
RUNNERS = {("jax", "frozen"): _CELLS + "jax_cell", ("jax", "finetuned"): _CELLS + "jax_finetuned",
           ("torch", "frozen"): _CELLS + "torch_cell",
           ("torch", "finetuned"): _CELLS + "torch_finetuned"}
# A JAX cell's random init shared with its torch: twin (init "torch"), imported by name only for
# such cells: its torch code enters their keys and no other's.
SHARED_INIT = _CELLS + "shared_init:torch_init_variables"
STORE = _CELLS + "store"  # loads, computes and saves every cell: its code is upstream of all


def code_entries(framework: str, regime: str, init: str, preset: zoo.Preset) -> tuple[str, ...]:
  """Where a cell's code starts: its runner, the store and the code its preset names by import
  path (module, porter, reference) that this cell runs. source_code.upstream walks the imports
  from here."""
  entries = [RUNNERS[framework, regime], STORE]
  if framework == "jax":
    entries.append(preset.module)
    if preset.porter and (preset.weights is not None or init == "torch"):
      entries.append(preset.porter)
  if init == "torch":
    entries.append(SHARED_INIT)
  if preset.reference and (framework == "torch" or init == "torch"):
    entries.append(preset.reference)
  return tuple(entries)


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
  """A cell of the grid. `model` is the name as written in the config (`rn18`, `torch:rn18`).

  Built without touching data; `opened()` returns the cell with its splits open and its key
  computed from them. The key, the paths under it and the batches exist on an opened cell only.
  """

  dataset: str
  model: str
  regime: str
  backbone: zoo.Backbone
  cache_dir: str  # embeddings/ and train/ live here (a sweep's trials share one)
  data_root: str
  split_name: str = "test"
  data_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # open_split kwargs
  drop_background: bool = False
  embed_batch_size: int = 32
  embed_dtype: str = "float32"  # compute dtype of the extraction (extract.resolve_dtype)
  seed: int = 42
  train: dict[str, Any] | None = None  # config.train as a dict (fine-tuned cells)
  init: str = "flax"  # resolve_init: "weights", "torch" (shared with torch: cells) or "flax"
  # The opened splits (`opened()`): the evaluated one, and train and valid for fine-tuning.
  splits: dict[str, pipeline.SplitData] | None = dataclasses.field(default=None, repr=False)

  def __post_init__(self):
    if self.regime not in REGIMES:
      raise ValueError(f"Unknown regime {self.regime!r}; known: {list(REGIMES)}")
    if self.regime == "finetuned" and self.train is None:
      raise ValueError(f"{self.desc}: a fine-tuned cell needs the training config.")

  @property
  def framework(self) -> str:
    return split_model_name(self.model)[0]

  @property
  def runner(self) -> str:
    """The module that computes this cell's embeddings (RUNNERS)."""
    return RUNNERS[self.framework, self.regime]

  @property
  def model_dir(self) -> str:
    """Folder name for the model's files: "torch:rn18" -> "torch-rn18" (no ':' in paths)."""
    return self.model.replace(":", "-")

  def opened(self) -> Cell:
    """This cell with its splits opened, each once (the tfds builder prepares a split the first
    time, at the model's input rate): the evaluated split, and train and valid for fine-tuning.
    A missing split raises here (KeyError, ValueError or FileNotFoundError, naming it)."""
    names = [self.split_name] + (["train", "valid"] if self.regime == "finetuned" else [])
    return dataclasses.replace(self, splits={n: self.open(n) for n in dict.fromkeys(names)})

  def _opened_split(self, name: str) -> pipeline.SplitData:
    if self.splits is None:
      raise ValueError(f"{self.desc}: the cell is not opened; its key and files come from its "
                       "splits: use cell.opened().")
    return self.splits[name]

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
        "code": source_code.code_hash(code_entries(self.framework, self.regime, self.init,
                                                   self.backbone.preset)),
    }
    if self.backbone.preset.weights is None or self.regime == "finetuned":
      inputs["seed"] = int(self.seed)  # random init and training draw from it
    if self.framework == "jax" and self.init == "torch":
      inputs["init"] = "torch"  # the torch reference's init, ported (absent: Flax's own)
    if self.regime == "finetuned":
      inputs["train"] = self.train
      inputs["train_data"] = {s: _split_identity(self._opened_split(s), False)
                              for s in ("train", "valid")}
    return inputs

  @functools.cached_property
  def key(self) -> str:
    """16 hex digits of sha256 over `key_inputs` (canonical JSON)."""
    text = json.dumps(self.key_inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

  @property
  def embeddings_path(self) -> str:
    return os.path.join(self.cache_dir, "embeddings", self.dataset, self.model_dir,
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
    return os.path.join(self.cache_dir, "train", self.dataset, self.model_dir, key[:16])

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

  def annotated_classes(self, split: str) -> set[int]:
    """Class indices the annotations of `split` name, without preparing it (data/split_classes.py)."""
    options = {k: v for k, v in self.data_options.items() if k in _SOURCE_OPTIONS}
    return split_classes.annotated_classes(self.dataset, split, data_root=self.data_root, **options)

  @functools.cached_property
  def source_rate(self) -> int:
    """The dataset's own rate (or the config's data.sample_rate), before any preparation."""
    options = {k: v for k, v in self.data_options.items() if k in _SOURCE_OPTIONS}
    source = pipeline.resolve_source(self.dataset, data_root=self.data_root, **options)
    return int(source.info.sample_rate)

  @property
  def split(self) -> pipeline.SplitData:
    """The split whose embeddings are evaluated (opened)."""
    return self._opened_split(self.split_name)

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
