"""Whisper checkpoints (transformers layout) -> our Flax models.whisper.WhisperEncoder.

The published files (openai/whisper-*/model.safetensors) hold WhisperForConditionalGeneration:
`model.encoder.*`, `model.decoder.*` and, in some, the tied `proj_out.weight`. A WhisperModel
holds `encoder.*` + `decoder.*`, a bare WhisperEncoder its own keys. The encoder is taken from
under its prefix and ported by name (Flax names mirror transformers'); the text decoder is not
part of an audio encoder and is knowingly left out. Any other tensor, or an encoder tensor
without a Flax twin, is an error naming it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

PortingError = torch_to_flax.PortingError

# (encoder prefix, the decoder-side prefixes left out) per layout.
_LAYOUTS = (
    ("model.encoder.", ("model.decoder.", "proj_out.")),
    ("encoder.", ("decoder.",)),
)
_DOTTED = naming.dotted_rule()


def encoder_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The encoder's own tensors (bare WhisperEncoder keys) of any supported layout."""
  keys = list(state_dict)
  for prefix, decoder in _LAYOUTS:
    if any(k.startswith(prefix) for k in keys):
      other = [k for k in keys if not k.startswith((prefix,) + decoder)]
      if other:
        raise PortingError(f"Whisper checkpoint with {prefix!r} keys also holds tensors that are "
                           f"neither encoder nor decoder: {other[:8]}")
      return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
  if "conv1.weight" in state_dict and "embed_positions.weight" in state_dict:
    return dict(state_dict)
  raise PortingError("Not a Whisper state_dict: expected 'model.encoder.*' "
                     "(WhisperForConditionalGeneration, the hub's model.safetensors), "
                     f"'encoder.*' (WhisperModel) or WhisperEncoder keys; got e.g. {keys[:5]}")


def _rule(path: torch_to_flax.FlaxPath):
  if path[-1] == "embedding":  # nn.Embed table <- nn.Embedding.weight
    return _DOTTED(path[:-1] + ("weight",))
  return _DOTTED(path)


def port_whisper(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params"} of a WhisperEncoder) from a Whisper state_dict (strict)."""
  return torch_to_flax.port_by_rules(encoder_state_dict(state_dict), target, _rule)
