"""ModelSpec: everything the suite needs to know about one registered model, in one place."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import numpy as np

# (torch state_dict as numpy arrays, Flax variables of the backbone) -> ported Flax variables.
Porter = Callable[[Mapping[str, np.ndarray], Any], Any]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A registered model: architecture + weights source + how audio becomes its input.

  Attributes:
    name: registry name; the paper's ids (`alex`, `rn18p`, `vggish`, `aves`, ...) are presets.
    architecture: the family member it builds (`resnet18`, `swin_s`, `hubert_base`, ...).
    build: `build(**overrides) -> nn.Module`, the backbone. Calling the module as
      `module.apply(variables, x, train=False)` returns `(output, intermediates)` where
      `intermediates["embedding"]` is the layer the paper used and `intermediates["pre_logits"]`
      the penultimate features. `overrides` lets tests shrink widths/depths.
    recipe: name of the input recipe in `bioacoustics_jax.audio.recipes` (audio -> model input).
    embedding_dim: size of `intermediates["embedding"]` at full size.
    torch_reference: `() -> torch.nn.Module` with random init and the public checkpoint's key
      layout (imports torch lazily), used for parity tests, porting and PyTorch baselines.
    port: the porter from that reference's state_dict to this backbone's variables.
    weights: file name of the pretrained PyTorch weights (looked up in the weights directory);
      None means random init (the paper's rn18/rn50/rn152).
    weights_url: where a user can fetch `weights` (never downloaded in tests).
    frozen_prefixes: parameter-path prefixes kept frozen when fine-tuning (HuBERT's CNN encoder).
  """

  name: str
  architecture: str
  build: Callable[..., nn.Module]
  recipe: str
  embedding_dim: int
  torch_reference: Callable[..., Any] | None = None
  port: Porter | None = None
  weights: str | None = None
  weights_url: str | None = None
  frozen_prefixes: tuple[str, ...] = ()
  description: str = ""
