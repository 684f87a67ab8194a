"""A model resolved once: `resolve(name, overrides, weights_dir) -> Backbone`.

The Backbone is the one object the rest of the suite asks about a model: its Flax module (built
once, with the overrides), its input recipe and input rate (`input_rate(dataset_rate)`, the one
place that rule lives), its starting variables (random init from an rng, a PyTorch file ported
on the fly, or an already-ported orbax directory), its PyTorch reference, and the identity of
its weights. experiment.py resolves each cell's model once and hands this object to fine-tuning,
extraction and the PyTorch baseline; none of them looks the name up again.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax import source_code
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.models import initialize
from bioacoustics_jax.porting import checkpoint
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.porting import torch_to_flax
from bioacoustics_jax.zoo import preset as preset_lib
from bioacoustics_jax.zoo import presets as presets_lib

# Parameter shapes never depend on the clip length or rate, so one second at this rate builds
# the variable tree of any model whose recipe takes the dataset's own rate.
SHAPE_RATE = 16000
RATE_RULES = ("model", "dataset")
# Fixed-rate recipes and their any-rate twin, for `rate_rule="dataset"`: only a raw waveform can
# be fed at another rate (a mel or fbank recipe's filters are defined at its own rate).
_ANY_RATE_TWIN = {"waveform16k": "waveform"}


@dataclasses.dataclass(frozen=True, eq=False)
class Backbone:
  """One model id + constructor overrides + where its weights are looked up.

  Compared and hashed by identity: a run resolves each model once, and caches keyed on the
  Backbone (the jitted extractor) are then shared by all of that model's cells.
  """

  preset: preset_lib.Preset
  overrides: Mapping[str, Any]
  weights_dir: pathlib.Path
  # "model": the recipe's own rate (AVES at 16 kHz); "dataset": the dataset's audio fed as it is
  # (what the paper's AVES code did, see experiments/configs/beans_paper.py aves_input_rate).
  rate_rule: str = "model"

  def __post_init__(self):
    if self.rate_rule not in RATE_RULES:
      raise ValueError(f"input rate rule must be one of {RATE_RULES}, got {self.rate_rule!r}")
    if self.rate_rule == "dataset":
      if self.preset.recipe not in _ANY_RATE_TWIN and recipes.get_recipe(
          self.preset.recipe).sample_rate is not None:
        raise ValueError(f"Model {self.name!r} ({self.preset.recipe}) cannot take the "
                         f"dataset's rate: only raw-waveform recipes can "
                         f"({', '.join(_ANY_RATE_TWIN)}).")

  @property
  def name(self) -> str:
    return self.preset.name

  @property
  def architecture(self) -> str:
    return self.preset.architecture

  @property
  def frozen_prefixes(self) -> tuple[str, ...]:
    return tuple(self.preset.frozen_prefixes)

  @property
  def recipe(self) -> recipes.InputRecipe:
    name = self.preset.recipe
    if self.rate_rule == "dataset":
      name = _ANY_RATE_TWIN.get(name, name)
    return recipes.get_recipe(name)

  @property
  def model_recipe(self) -> recipes.InputRecipe:
    """What the module is fed: the recipe, or, for a module with a folded stem
    (preset.folded_stem), the recipe's repeated channel once (audio/recipes/channels.py): the
    same network output for a third of the first convolution's work."""
    return recipes.folded(self.recipe) if self.preset.folded_stem else self.recipe

  @functools.cached_property
  def module(self):
    """The Flax backbone (eval and train mode alike), built once."""
    return self.preset.build(**self.overrides)

  def input_rate(self, dataset_rate: int | None) -> int:
    """The rate the model's input is computed at: the recipe's own fixed rate (VGGish, HuBERT
    and AST at 16 kHz) or, for recipes that accept any rate (the paper's mel), the dataset's."""
    rate = self.recipe.sample_rate or dataset_rate
    if not rate:
      raise ValueError(f"Model {self.name!r} takes the dataset's own sample rate; none given.")
    return int(rate)

  def sample_input(self, rate: int | None = None, num_samples: int | None = None) -> np.ndarray:
    """Zeros shaped like one example of the model's input (one second unless `num_samples`)."""
    rate = self.input_rate(rate or SHAPE_RATE)
    audio = jax.ShapeDtypeStruct((1, int(num_samples or rate)), jnp.float32)
    shape = jax.eval_shape(lambda a: self.recipe.prepare(a, rate), audio)
    return np.zeros(shape.shape, shape.dtype)

  def training_module(self, *, cross_replica_bn: bool, dtype: Any = None,
                      regularization: bool = True):
    """The module for data-parallel training: cross-replica BatchNorm over the "data" axis when
    the model has BatchNorm (the preset says so), the compute dtype (e.g. bf16) and, with
    `regularization`, the original model's train-mode dropout / stochastic depth / LayerDrop
    (preset.train_kwargs; user overrides of the same keys win)."""
    changes = {}
    if regularization:
      changes.update({k: v for k, v in self.preset.train_kwargs.items()
                      if k not in self.overrides})
    if cross_replica_bn and self.preset.batch_norm:
      changes["bn_axis_name"] = "data"
    if dtype is not None:
      changes["dtype"] = dtype
    return self.module.clone(**changes) if changes else self.module

  # --- weights -------------------------------------------------------------------------------

  @property
  def weights_path(self) -> pathlib.Path | None:
    """The PyTorch file this model starts from (None: random init): the preset's file name,
    or the first of its alternative names that exists."""
    if not self.preset.weights:
      return None
    for name in self.preset.weights_alternatives:
      if (self.weights_dir / name).is_file() and not load_lib.weights_present(
          self.weights_dir / self.preset.weights):
        return self.weights_dir / name
    return self.weights_dir / self.preset.weights

  @property
  def ported_dir(self) -> pathlib.Path:
    """Where `python -m bioacoustics_jax.zoo --model=NAME` writes (and runs then read) the
    ported orbax checkpoint: `<weights dir>/<name>.ported/`."""
    return self.weights_dir / f"{self.name}.ported"

  def check_weights(self) -> None:
    """Raises MissingWeightsError (file, URL, folder) unless the weights are on disk."""
    if self.preset.weights is None or self._usable_ported_dir() is not None:
      return
    if not load_lib.weights_present(self.weights_path):
      raise load_lib.MissingWeightsError(load_lib.missing_weights_message(
          self.name, self.weights_path, self.preset.weights_url))

  def init_variables(self, rng: jax.Array, sample: Any | None = None) -> Any:
    """Starting variables of the backbone: random init from `rng` for a random-init model,
    else the ported orbax directory when one exists for this file, else the PyTorch file
    ported now (strict: any unmapped or mis-shaped tensor is an error naming it)."""
    sample = self.sample_input() if sample is None else sample
    if self.preset.weights is None:
      return initialize.init(self.module, rng, sample)
    ported = self._usable_ported_dir()
    if ported is not None:
      return checkpoint.load_variables(ported)
    self.check_weights()
    return self.port_file(self.weights_path, sample)

  def port_file(self, path: str | os.PathLike, sample: Any | None = None) -> Any:
    """Variables of this backbone ported from the PyTorch checkpoint at `path`."""
    return self.port_state_dict(load_lib.load_state_dict(path), sample, source=str(path))

  def port_state_dict(self, state_dict: Mapping[str, Any], sample: Any | None = None, *,
                      source: str = "state_dict") -> Any:
    """Variables of this backbone ported from a PyTorch `state_dict` (numpy or tensors), e.g.
    the torch reference's own random init (cells/shared_init.py)."""
    sample = self.sample_input() if sample is None else sample
    target = jax.eval_shape(lambda x: self.module.init(jax.random.PRNGKey(0), x), sample)
    try:
      ported = self.preset.port(state_dict, target)
    except torch_to_flax.PortingError as e:
      raise torch_to_flax.PortingError(
          f"{source} does not fit model {self.name!r} ({self.architecture}): {e}") from None
    return jax.tree.map(jnp.asarray, ported)

  def torch_reference(self):
    """The PyTorch reference (random init) with the same overrides."""
    return self.preset.torch_reference(**self.overrides)

  def identity(self) -> dict[str, Any]:
    """Everything that decides this backbone's numbers, as JSON-able data (a cell key input):
    the preset (module, kwargs, recipe, porter), the overrides, the weights file by name, size
    and content hash (or the ported directory's source hash), and a hash of the code that
    computes its embeddings."""
    preset = self.preset
    weights = None
    if preset.weights is not None:
      ported = self._usable_ported_dir()
      if ported is not None:
        weights = {"ported_from_sha256": checkpoint.load_metadata(ported).get("sha256")}
      elif load_lib.weights_present(self.weights_path):  # a file or a SavedModel folder
        weights = {"file": preset.weights, "size": load_lib.weights_size(self.weights_path),
                   "sha256": load_lib.weights_sha256(self.weights_path)}
      else:
        weights = {"file": preset.weights, "missing": True}
    out = {"model": preset.name, "architecture": preset.architecture, "module": preset.module,
           "module_kwargs": dict(preset.module_kwargs), "porter": preset.porter,
           "recipe": self.recipe.name, "overrides": dict(self.overrides), "weights": weights,
           "code": _code_hash(preset.module,
                              *([preset.porter] if weights and preset.porter else []))}
    if self.rate_rule != "model":
      out["rate_rule"] = self.rate_rule  # absent by default: existing keys stay valid
    return out

  def _usable_ported_dir(self) -> pathlib.Path | None:
    # A ported directory is used only for the full-size model and only if it was ported from
    # the same file that sits in the weights folder now (sha256); else the file is ported anew.
    meta_file = self.ported_dir / checkpoint.METADATA_FILE
    if self.overrides or not meta_file.is_file():
      return None
    meta = checkpoint.load_metadata(self.ported_dir)
    if meta.get("architecture") != self.architecture:
      return None
    if load_lib.weights_present(self.weights_path) and meta.get(
        "sha256") != load_lib.weights_sha256(self.weights_path):
      return None
    return self.ported_dir


def resolve(name: str, overrides: Mapping[str, Any] | None = None,
            weights_dir: str | os.PathLike | None = None, rate_rule: str = "model") -> Backbone:
  """The Backbone for model id `name` (an unknown id lists the known ones); `rate_rule`
  "dataset" feeds a raw-waveform model the dataset's own rate instead of its recipe's."""
  return Backbone(preset=presets_lib.get_preset(name), overrides=dict(overrides or {}),
                  weights_dir=load_lib.weights_dir(weights_dir or None), rate_rule=rate_rule)


@functools.lru_cache(maxsize=None)
def _code_hash(*entries: str) -> str:
  """The code a backbone's numbers come from: zoo/backbone.py, the preset's family module (and
  porter) and every package module they import (layers, recipes, frontend), computed from the
  imports (source_code.py), never listed by hand."""
  return source_code.code_hash((__name__,) + entries)
