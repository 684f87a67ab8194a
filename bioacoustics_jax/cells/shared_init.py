"""One random init for both frameworks: the torch reference's init, ported into Flax.

    variables = torch_init_variables(zoo.resolve("rn18"), seed=42, sample=x)

A random-init model compared across frameworks ("rn18" beside "torch:rn18") must be the same
network, or the comparison measures two draws of the init, not two frameworks. The PyTorch
baseline builds its reference at `torch.manual_seed(seed)` (baselines/torch_embed.py); this builds
exactly that module and ports its state_dict with the preset's porter (the same strict rules that
port pretrained files), so the JAX cell starts from the same weights bit for bit.

It lives in cells/, beside both cells: the JAX cell (jax_cell.py) imports it by name
(cell.SHARED_INIT) when `config.random_init` says so (cell.resolve_init: "torch", or "auto" when
the run holds the model's `torch:` twin); the cell key records which init a cell used and hashes
this code (and the torch reference's) into that cell's key only.
"""

from __future__ import annotations

from typing import Any

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.zoo import Backbone


def torch_init_variables(backbone: Backbone, *, seed: int, sample: Any | None = None) -> Any:
  """Flax variables of `backbone` equal to its torch reference at `torch.manual_seed(seed)`."""
  if backbone.preset.weights is not None:
    raise ValueError(f"Model {backbone.name!r} starts from pretrained weights; a shared random "
                     "init applies to random-init models only.")
  reference = torch_embed.build_backbone(backbone, seed=seed).reference
  state_dict = {k: v.detach().cpu().numpy() for k, v in reference.state_dict().items()}
  return backbone.port_state_dict(state_dict, sample,
                                  source=f"torch reference of {backbone.name!r} (seed {seed})")

