"""transformers AST state_dicts (current or legacy layout) -> our Flax AST (models/ast.py).

transformers 5 names AST's layers ViT-style-new (`layers.0.attention.q_proj`,
`layers.0.mlp.fc1`); checkpoints published before it (e.g. MIT/ast-finetuned-audioset-*) use
`audio_spectrogram_transformer.encoder.layer.0.attention.attention.query`,
`...attention.output.dense`, `...intermediate.dense`, `...output.dense`, and carry the AudioSet
classifier (`classifier.*`). `to_current_layout` renames the legacy keys (the same renames
transformers applies when loading them); the classifier head is not part of the backbone (we
stop at the pooled output, like ASTModel) and is ignored explicitly.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

_PREFIX = "audio_spectrogram_transformer."
_IGNORED = ("classifier.",)
# Order matters: `attention.output.dense` before the bare `output.dense`.
_LEGACY_RENAMES = (
    (r"^encoder\.layer\.(\d+)\.", r"layers.\1."),
    (r"\.attention\.attention\.query\.", ".attention.q_proj."),
    (r"\.attention\.attention\.key\.", ".attention.k_proj."),
    (r"\.attention\.attention\.value\.", ".attention.v_proj."),
    (r"\.attention\.output\.dense\.", ".attention.o_proj."),
    (r"\.intermediate\.dense\.", ".mlp.fc1."),
    (r"\.output\.dense\.", ".mlp.fc2."),
)


def to_current_layout(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Strips the classification model's prefix and renames legacy layer keys; others unchanged."""
  out = {}
  for key, value in state_dict.items():
    new = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
    if new.startswith("encoder.layer."):
      for pattern, repl in _LEGACY_RENAMES:
        new = re.sub(pattern, repl, new)
    if new in out:
      raise torch_to_flax.PortingError(f"{key!r} and another key both map to {new!r}")
    out[new] = value
  return out


def port_ast(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params"} of a models.ast.AST) from an ASTModel/ASTForAudioClassification dict.

  `embeddings.patch_embeddings.projection.weight` -> params/embeddings/patch_embeddings/
  projection/kernel (OIHW -> HWIO; our image is [mel, time] like torch's), the tokens and the
  position table as they are, Linears transposed, LayerNorm weight -> scale.
  """
  sd = to_current_layout(state_dict)
  if not any(k.startswith("embeddings.") for k in sd):
    raise torch_to_flax.PortingError(
        "Not an AST state_dict: no 'embeddings.*' keys (nor 'audio_spectrogram_transformer."
        f"embeddings.*'); got e.g. {list(state_dict)[:5]}")
  return torch_to_flax.port_by_rules(sd, target, naming.dotted_rule(), ignore_source=_IGNORED)
