"""wav2vec 2.0-family state_dicts (HuBERT / AVES, wav2vec 2.0, WavLM, data2vec-audio; torchaudio
or transformers layout) -> our Flax models.hubert.HuBERT.

Two public layouts hold the same tensors:
  * torchaudio `wav2vec2_model` (AVES' `.torchaudio.pt` files, torchaudio's HUBERT_BASE):
    `feature_extractor.conv_layers.*`, `encoder.feature_projection.*`,
    `encoder.transformer.{pos_conv_embed,layer_norm,layers}.*`;
  * transformers `HubertModel`: `feature_extractor.conv_layers.*`, `feature_projection.*`,
    `encoder.{pos_conv_embed,layer_norm,layers}.*` (+ `masked_spec_embed` when SpecAugment
    masking is configured).
Inside a layer both use the same names (`attention.q_proj`, `feed_forward.intermediate_dense`,
`final_layer_norm`, ...), so we detect the layout from the keys, rename torchaudio keys to the
transformers ones (`torchaudio_to_transformers`, a pure prefix mapping), fold the positional
conv's weight norm into one kernel, and port by name (Flax names mirror transformers').
fairseq checkpoints (`w2v_encoder.*`, `feature_extractor.conv_layers.0.0.weight`) are rejected
with a pointer to the torchaudio port.

Hugging Face checkpoints saved from a model with a head prefix the backbone (`wav2vec2.`,
`hubert.`, `wavlm.`, `data2vec_audio.`); the prefix is stripped, and of the tensors outside it
only the pre-training heads of the published self-supervised checkpoints (wav2vec 2.0's
`quantizer.*`, `project_q.*`, `project_hid.*`) are knowingly left out. Any other head (a CTC
`lm_head`, a classifier) is an error naming its tensors. WavLM's extra attention tensors
(`gru_rel_pos_linear`, `gru_rel_pos_const`, layer 0's `rel_attn_embed`) sit under the torch
`attention` module, which the Flax model splits into `attention` and `rel_pos`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

PortingError = torch_to_flax.PortingError

# torchaudio prefix -> transformers prefix (everything else is named identically).
_TORCHAUDIO_PREFIXES = (
    ("encoder.feature_projection.", "feature_projection."),
    ("encoder.transformer.", "encoder."),
)
_POS_CONV = "encoder.pos_conv_embed.conv."
# Only used by transformers' training-time time masking; the encoder never reads it in eval.
_IGNORED = ("masked_spec_embed",)
# transformers' `base_model_prefix` of each family's heads (HubertForCTC -> "hubert.", ...).
_BACKBONE_PREFIXES = ("hubert.", "wav2vec2.", "wavlm.", "data2vec_audio.")
# Pre-training heads of the published self-supervised checkpoints (Wav2Vec2ForPreTraining).
_PRETRAINING_HEADS = ("quantizer.", "project_q.", "project_hid.")


def detect_layout(state_dict: Mapping[str, Any]) -> str:
  """'torchaudio' or 'transformers', from the keys; PortingError naming the problem otherwise."""
  keys = list(state_dict)
  if any(k.startswith("encoder.transformer.") for k in keys):
    return "torchaudio"
  if any(k.startswith(("encoder.layers.", "encoder.pos_conv_embed.")) for k in keys):
    return "transformers"
  if any(k.startswith(("w2v_encoder.", "model.")) for k in keys) or any(
      k.startswith("feature_extractor.conv_layers.0.0.") for k in keys):
    raise PortingError(
        "This looks like a fairseq checkpoint (keys like 'feature_extractor.conv_layers.0.0."
        "weight' or 'w2v_encoder.*'). Use the TorchAudio port instead, e.g. AVES' "
        "'aves-base-bio.torchaudio.pt' from https://storage.googleapis.com/esp-public-files/"
        "ported_aves/, or convert it with torchaudio.models.wav2vec2.utils.import_fairseq_model.")
  raise PortingError(
      "Not a HuBERT/wav2vec2 state_dict: expected torchaudio keys 'encoder.transformer.*' or "
      f"transformers keys 'encoder.layers.*'; got e.g. {keys[:5]}")


def strip_backbone_prefix(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """A head model's state_dict (`wav2vec2.*` + heads) -> the backbone's own keys.

  Keys outside the prefix must be a known pre-training head (left out); anything else is a
  PortingError naming the tensors.
  """
  keys = list(state_dict)
  prefix = next((p for p in _BACKBONE_PREFIXES if any(k.startswith(p) for k in keys)), None)
  if prefix is None:
    return dict(state_dict)
  heads = [k for k in keys if not k.startswith(prefix)]
  unknown = [k for k in heads if not k.startswith(_PRETRAINING_HEADS)]
  if unknown:
    raise PortingError(
        f"Keys outside the backbone prefix {prefix!r} that are not a known pre-training head "
        f"({', '.join(_PRETRAINING_HEADS)}): {unknown[:8]}. Pass the backbone's state_dict "
        "(e.g. model.wav2vec2.state_dict()) or a self-supervised checkpoint.")
  return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def torchaudio_to_transformers(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Renames torchaudio `wav2vec2_model` keys to transformers `HubertModel` keys (same tensors)."""
  out = {}
  for key, value in state_dict.items():
    new = key
    for old_prefix, new_prefix in _TORCHAUDIO_PREFIXES:
      if key.startswith(old_prefix):
        new = new_prefix + key[len(old_prefix):]
        break
    if new in out:
      raise PortingError(f"{key!r} and another key both map to {new!r}")
    out[new] = value
  return out


def weight_norm_kernel(g: np.ndarray, v: np.ndarray, dim: int = 2) -> np.ndarray:
  """torch weight_norm's effective weight: v * g / ||v||, the norm over every axis but `dim`.

  HuBERT uses dim=2 on the Conv1d weight [out, in/groups, kernel]: one (g, norm) per kernel
  tap. Computed in float64 and rounded once, so it is as close to torch's float32 result as
  float32 allows.
  """
  v64 = np.asarray(v, np.float64)
  axes = tuple(a for a in range(v64.ndim) if a != dim % v64.ndim)
  norm = np.sqrt(np.sum(v64 * v64, axis=axes, keepdims=True))
  return (v64 * (np.asarray(g, np.float64) / norm)).astype(np.asarray(v).dtype)


def fold_weight_norm(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Replaces the positional conv's (g, v) pair by its effective `weight`.

  Accepts both spellings: `weight_g`/`weight_v` (torch.nn.utils.weight_norm, what AVES and
  torchaudio checkpoints hold) and `parametrizations.weight.original0/1` (the newer API).
  """
  out = dict(state_dict)
  for g_name, v_name in (("weight_g", "weight_v"),
                         ("parametrizations.weight.original0",
                          "parametrizations.weight.original1")):
    g_key, v_key = _POS_CONV + g_name, _POS_CONV + v_name
    if g_key in out or v_key in out:
      if g_key not in out or v_key not in out:
        raise PortingError(f"weight-normed positional conv needs both {g_key!r} and {v_key!r}")
      if _POS_CONV + "weight" in out:
        raise PortingError(f"both {_POS_CONV}weight and its weight-norm pair are present")
      out[_POS_CONV + "weight"] = weight_norm_kernel(out.pop(g_key), out.pop(v_key))
  return out


def to_transformers_layout(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Any supported layout -> transformers names with a plain positional-conv `weight`."""
  state_dict = strip_backbone_prefix(state_dict)
  if detect_layout(state_dict) == "torchaudio":
    state_dict = torchaudio_to_transformers(state_dict)
  return fold_weight_norm(state_dict)


_DOTTED = naming.dotted_rule({"rel_pos": "attention"})


def _rule(path: torch_to_flax.FlaxPath):
  if path[-1] == "embedding":  # nn.Embed table (WavLM's rel_attn_embed) <- nn.Embedding.weight
    key, _ = _DOTTED(path[:-1] + ("weight",))
    return key, torch_to_flax.identity
  return _DOTTED(path)


def port_hubert(state_dict: Mapping[str, np.ndarray], target: Any) -> Any:
  """Fills `target` ({"params"} of a models.hubert.HuBERT) from a torchaudio/transformers dict
  of any member of the family (HuBERT, wav2vec 2.0, WavLM, data2vec-audio)."""
  return torch_to_flax.port_by_rules(to_transformers_layout(state_dict), target, _rule,
                                     ignore_source=_IGNORED)
