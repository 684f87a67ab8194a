"""What a zoo preset is: one model id as data (module, porter, reference, weights, recipe).

zoo/presets.py holds the table of every preset; zoo/backbone.py turns one into a Backbone. Code
is named by import path ("package.module:attr") and imported only when used.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
from typing import Any, Callable, Mapping


def load_attr(path: str) -> Any:
  """"package.module:attr" -> the attribute, importing only that module."""
  module, _, attr = path.partition(":")
  return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class Preset:
  """One model id of the zoo.

  Attributes:
    name: the id (`rn18p`, `aves`, ...); the paper's ids are presets like any other.
    architecture: the network it builds (`resnet18`, `hubert_base`, ...); presets that share one
      differ only in weights (parity is tested once per architecture).
    module: import path of `build(**kwargs) -> nn.Module`; the module's
      `apply(variables, x, train=False)` returns `(output, {"embedding": ..., "pre_logits": ...})`.
    module_kwargs: constructor kwargs fixed by the preset (user overrides go on top).
    recipe: input recipe name (bioacoustics_jax/audio/recipes/): audio -> model input; the
      recipe's fixed `sample_rate`, if any, is the model's input rate (else the dataset's rate).
    embedding_dim: size of `intermediates["embedding"]` at full size.
    porter: import path of `port(state_dict, target) -> variables` for the checkpoint layout.
    reference: import path of `reference(**kwargs) -> torch.nn.Module` (random init, the
      checkpoint's key layout); reference_kwargs: its fixed kwargs.
    weights: the pretrained PyTorch file looked up in the weights folder (None: random init).
    weights_url: where `python -m bioacoustics_jax.zoo --download=NAME` fetches `weights` from
      (a run never downloads).
    sha256: the whole sha256 of `weights` where a public source states it (zoo/download.py
      checks it; torchvision's files without one are checked by the 8-digit prefix in their
      name); None: unknown.
    frozen_prefixes: parameter-path prefixes kept frozen when fine-tuning.
    batch_norm: the module has BatchNorm layers and a `bn_axis_name` field (cross-replica BN
      when training data-parallel); every module has a `dtype` field (compute dtype).
    embedding: what the embedding is (which layer, which pooling), for the README and reports.
    parity: what the architecture's numbers are tested against: "torch" (its PyTorch reference),
      "keras" (a Keras application: the TF-convention EfficientNets of the Perch models, whose
      porter reads a SavedModel) or "librosa" (the MFCC baseline, no network to port).
    trainable: has parameters to fine-tune (the MFCC baseline has none: frozen only).
    train_kwargs: constructor kwargs for fine-tuning only, the original model's train-mode
      regularisation (Swin-S stochastic depth 0.3; AVES dropout/attention dropout/LayerDrop);
      they act only with train=True, so the eval graph (parity, extraction) is unchanged.
    licence: the licence of the weights file (`Apache-2.0`, `CC BY-NC-SA 4.0`, ...), shown by
      `python -m bioacoustics_jax.zoo --list` and the README; "" for random-init presets.
    bioacoustic: the weights were trained on animal sounds (the `bioacoustic` model set of the
      experiment configs is every such preset, computed from this flag).
    window_seconds: the clip length the original front end pads or crops to, or that the
      weights were trained on (CLAP 10 s, Whisper 30 s, AST 10.24 s, BirdSet 5 s); None: any
      length (the dataset's windows), e.g. the paper's CNNs and the waveform models.
    folded_stem: the module's first convolution takes 1 channel standing for identical ones
      (models/stem.py); the Backbone then feeds a recipe that repeats one channel
      (audio/recipes/channels.py computes which do) with that channel once.
  """

  name: str
  architecture: str
  module: str
  recipe: str
  embedding_dim: int
  module_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  porter: str | None = None
  reference: str | None = None
  reference_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  weights: str | None = None
  weights_url: str | None = None
  frozen_prefixes: tuple[str, ...] = ()
  batch_norm: bool = False
  embedding: str = ""
  description: str = ""
  parity: str = "torch"
  trainable: bool = True
  train_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  # Other names the same weights may have in the weights folder (first existing one wins):
  # AST's hub checkpoint as model.safetensors besides the legacy pytorch_model.bin.
  weights_alternatives: tuple[str, ...] = ()
  licence: str = ""
  bioacoustic: bool = False
  sha256: str | None = None
  window_seconds: float | None = None
  folded_stem: bool = False

  def __post_init__(self):
    # Read-only views: a preset is shared by every caller and must never be mutated.
    object.__setattr__(self, "module_kwargs", types.MappingProxyType(dict(self.module_kwargs)))
    object.__setattr__(self, "train_kwargs", types.MappingProxyType(dict(self.train_kwargs)))
    object.__setattr__(self, "reference_kwargs",
                       types.MappingProxyType(dict(self.reference_kwargs)))

  @property
  def family(self) -> str:
    """The models/ module that holds the architecture (`resnet`, `hubert`, ...)."""
    return self.module.partition(":")[0].rpartition(".")[2]

  def build(self, **overrides):
    """The Flax backbone, preset kwargs + `overrides` (tiny widths in tests)."""
    return load_attr(self.module)(**{**self.module_kwargs, **overrides})

  def torch_reference(self, **overrides):
    """The PyTorch reference at random init (imports torch)."""
    if self.reference is None:
      raise ValueError(f"Model {self.name!r} has no PyTorch reference.")
    return load_attr(self.reference)(**{**self.reference_kwargs, **overrides})

  def port(self, state_dict: Mapping[str, Any], target: Any) -> Any:
    """Checkpoint state_dict (numpy) -> variables shaped like `target` (strict)."""
    if self.porter is None:
      raise ValueError(f"Model {self.name!r} has no porter.")
    porter: Callable[..., Any] = load_attr(self.porter)
    return porter(state_dict, target)
