"""PyTorch baseline extraction: a model's PyTorch reference, run the way the paper's code ran.

    es = torch_embedding_set(build_backbone(zoo.resolve("rn18")), split, batch_size=32,
                             sample_rate=22050)

The model is `Backbone.torch_reference()` (torchvision / transformers / our reference with
the public checkpoint's key layout), random init with a fixed torch seed, or the preset's PyTorch
weight file loaded straight into it (no porting). It runs in eval mode under torch.no_grad on
the SAME numpy batches the JAX path reads (`split.numpy_batches`), through the torch twin of the
preset's input recipe (baselines/torch_recipes.py), and the rows are collected, masked and labelled
by embed/extract.py's own `extract` so both frameworks share one definition of an EmbeddingSet.

How each architecture's reference exposes the paper's embedding is one table, `FAMILIES`: the
torchvision classifiers give their 1000-d output, VGGish the mean of its per-patch 128-d
embeddings, HuBERT/AVES (and wav2vec 2.0, WavLM, data2vec-audio) the mean over time of the last
layer, AST the pooled output, Whisper the mean over the clip's positions of its last layer, CLAP its
normalised audio projection (get_audio_features), CNN14
its `embedding` (fc1) from the raw 32 kHz waveform through its own torchlibrosa front end,
BirdSet's ConvNeXt its pooled, normalised features.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Mapping

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

import numpy as np
import torch

from bioacoustics_jax import registry
from bioacoustics_jax.baselines import torch_recipes
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.zoo import Backbone


# ---------------------------------------------------------------------------------------------
# One table: architecture -> how its torch reference turns recipe output into the embedding.
# ---------------------------------------------------------------------------------------------


def _output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  return model(x)  # torchvision classifiers: the 1000-d ImageNet output is the embedding


def _patch_mean(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  batch, patches = x.shape[:2]  # [B, P, 1, 96, 64] -> torchvggish's [B * P, 1, 96, 64]
  per_patch = model(x.reshape(batch * patches, *x.shape[2:]))
  return per_patch.reshape(batch, patches, -1).mean(dim=1)


def _time_mean(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  return model(x).mean(dim=1)  # last transformer layer [B, T, D], averaged over time


def _hidden_mean(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  return model(x).last_hidden_state.mean(dim=1)  # transformers' wav2vec 2.0-family models


def _whisper_clip_mean(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  # WhisperEncoder takes the full 30 s window: append the padding frames' value (max(-1.5,
  # peak - 2), what WhisperFeatureExtractor gives 30 s of zeros), average the clip's positions.
  frames = 2 * model.config.max_source_positions
  peak = x.amax(dim=(1, 2), keepdim=True)
  fill = torch.maximum(torch.tensor(-1.5), peak - 2.0).expand(-1, x.shape[1], frames - x.shape[2])
  hidden = model(torch.cat([x, fill], dim=2)).last_hidden_state
  return hidden[:, :-(-x.shape[2] // 2)].mean(dim=1)


def _wav2vec2_family_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  # Published files: `wav2vec2.*` (+ pre-training heads) or bare keys, with the positional
  # conv's weight norm as weight_g/weight_v; the reference has bare keys and the newer
  # parametrizations spelling.
  from bioacoustics_jax.porting import hubert as hubert_porting  # pylint: disable=g-import-not-at-top
  out = {}
  for key, value in hubert_porting.strip_backbone_prefix(state_dict).items():
    key = key.replace("conv.weight_g", "conv.parametrizations.weight.original0")
    out[key.replace("conv.weight_v", "conv.parametrizations.weight.original1")] = value
  return out


def _whisper_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  from bioacoustics_jax.porting import whisper as whisper_porting  # pylint: disable=g-import-not-at-top
  return whisper_porting.encoder_state_dict(state_dict)


def _clap_audio_features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  # ClapAudioModelWithProjection on [B, 1, frames, 64]; normalised as get_audio_features.
  return torch.nn.functional.normalize(model(x[:, None]).audio_embeds, dim=-1)


def _clap_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  # The hub file is the whole ClapModel; the reference is its audio half.
  from bioacoustics_jax.porting import clap as clap_porting  # pylint: disable=g-import-not-at-top
  return {k: v for k, v in state_dict.items() if not k.startswith(clap_porting.TEXT_SIDE)}


def _convnext_pooled(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  # ConvNextForImageClassification on [B, 1, 128, frames]: its backbone's pooler_output
  # (global average pool -> LayerNorm), the embedding; the species logits are left out.
  return model.convnext(x).pooler_output


def _pooled(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  return model(x).pooler_output  # ASTModel: mean of the cls and distillation tokens


def _panns_embedding(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
  return model(x)["embedding"]  # Cnn14: waveform -> its own log-mel -> fc1 (2048-d)


def _ast_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  # Published AST checkpoints are ASTForAudioClassification in the legacy layout; the
  # reference is the bare ASTModel in the current one (the AudioSet classifier is not part of it).
  from bioacoustics_jax.porting import ast as ast_porting  # pylint: disable=g-import-not-at-top
  return {k: v for k, v in ast_porting.to_current_layout(state_dict).items()
          if not k.startswith("classifier.")}


@dataclasses.dataclass(frozen=True)
class TorchFamily:
  """embed: (reference, recipe output) -> embedding [B, D]; adapt_keys: checkpoint -> reference
  state_dict keys (identity when the file already has the reference's layout); packages: what
  its reference imports beyond torch (checked before any cell runs, cells/torch_cell.py)."""

  embed: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]
  adapt_keys: Callable[[Mapping[str, Any]], dict[str, Any]] = dict
  packages: tuple[str, ...] = ()


_IMAGE = TorchFamily(_output, packages=("torchvision",))
_WAV2VEC2_FAMILY = TorchFamily(_hidden_mean, _wav2vec2_family_keys, packages=("transformers",))
FAMILIES: registry.Registry[TorchFamily] = registry.Registry("PyTorch baseline architecture", {
    "alexnet": _IMAGE, "vgg16": _IMAGE, "efficientnet_b0": _IMAGE, "swin_s": _IMAGE,
    "efficientnet_b1": _IMAGE, "efficientnet_b3": _IMAGE, "convnext_tiny": _IMAGE,
    "vit_b_16": _IMAGE,
    "resnet18": _IMAGE, "resnet34": _IMAGE, "resnet50": _IMAGE, "resnet101": _IMAGE,
    "resnet152": _IMAGE,
    "vggish": TorchFamily(_patch_mean),
    "hubert_base": TorchFamily(_time_mean),  # our reference in torchaudio's layout: torch only
    "ast": TorchFamily(_pooled, _ast_keys, packages=("transformers",)),
    "cnn14": TorchFamily(_panns_embedding, packages=("panns_inference", "torchlibrosa")),
    "wav2vec2_base": _WAV2VEC2_FAMILY,
    "wavlm_base_plus": _WAV2VEC2_FAMILY,
    "data2vec_audio_base": _WAV2VEC2_FAMILY,
    "whisper_base": TorchFamily(_whisper_clip_mean, _whisper_keys, packages=("transformers",)),
    "clap_htsat": TorchFamily(_clap_audio_features, _clap_keys, packages=("transformers",)),
    "birdaves_large": TorchFamily(_time_mean),  # as hubert_base: ESP's torchaudio layout
    "convnext_base_birdset": TorchFamily(_convnext_pooled, packages=("transformers",)),
}, hint="Add it to FAMILIES in bioacoustics_jax/baselines/torch_embed.py.")


def family(architecture: str) -> TorchFamily:
  return FAMILIES[architecture]


def device() -> torch.device:
  """Where the PyTorch baseline runs: the CUDA accelerator when there is one, else the CPU (the
  JAX path uses the accelerator too, so a speed comparison compares one machine)."""
  return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def compute_dtype(jax_dtype: str) -> torch.dtype | None:
  """The torch autocast dtype matching the JAX compute dtype ("float32" / "bfloat16"): None
  (plain float32) or torch.bfloat16 (AMP; parameters stay float32, as with the JAX path)."""
  if jax_dtype in ("float32", "off", None):
    return None
  if jax_dtype in ("bfloat16", "bf16"):
    return torch.bfloat16
  raise ValueError(f"No torch compute dtype for {jax_dtype!r}; expected float32 or bfloat16.")


def autocast(dev: torch.device, dtype: torch.dtype | None):
  """AMP context for `dtype` on `dev` (a no-op context for float32)."""
  return torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None)


def device_info(dev: torch.device) -> dict[str, Any]:
  """device_kind / device_count of the speed columns (one device: the baseline does not shard)."""
  kind = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
  return {"device_kind": kind, "device_count": 1}


class TorchBackbone(torch.nn.Module):
  """A model's torch reference + its recipe: `forward(inputs) -> embedding [B, D]`.

  `reference` holds the model under its own state_dict keys (the checkpoint's layout), so
  `backbone.reference.state_dict()` can be saved, reloaded, or ported to Flax.
  """

  def __init__(self, model: Backbone, reference: torch.nn.Module):
    super().__init__()
    self.model_name = model.name
    self.recipe_name = model.recipe.name  # the Backbone's (rate_rule may swap the preset's)
    self.reference = reference
    self._family = family(model.architecture)

  def prepare(self, audio, sample_rate: int) -> torch.Tensor:
    """Raw audio [B, T] (numpy or tensor) -> this model's input, via the torch recipe (on the
    CPU in float32, outside any autocast: its constant windows and filterbanks are CPU
    tensors), moved to the module's device."""
    dev = next(self.reference.parameters()).device
    with torch.autocast("cpu", enabled=False):
      inputs = torch_recipes.get_torch_recipe(self.recipe_name)(audio, sample_rate)
    return inputs.to(dev)

  def forward(self, inputs: torch.Tensor) -> torch.Tensor:
    return self._family.embed(self.reference, inputs).to(torch.float32)

  def embed_audio(self, audio, sample_rate: int) -> torch.Tensor:
    return self(self.prepare(audio, sample_rate))


def build_backbone(model: Backbone, *, state_dict: Mapping[str, Any] | None = None,
                   seed: int = 0) -> TorchBackbone:
  """The model's torch reference in eval mode: `state_dict` if given, else the preset's weight
  file (in the model's weights directory), else random init from `torch.manual_seed(seed)`.

  Raises:
    load_lib.MissingWeightsError: the model has pretrained weights and the file is absent (the
      same message as porting: file name, URL, folder).
    ValueError: the weights do not fit the reference (missing/unexpected keys or shapes).
  """
  if model.preset.reference is None:
    raise ValueError(f"Model {model.name!r} has no PyTorch reference, so it has no PyTorch "
                     "baseline.")
  fam = family(model.architecture)
  torch.manual_seed(seed)
  reference = model.torch_reference()
  source = "state_dict argument"
  if state_dict is None and model.weights_path is not None:
    path = model.weights_path
    if not path.is_file():
      raise load_lib.MissingWeightsError(
          load_lib.missing_weights_message(model.name, path, model.preset.weights_url))
    state_dict, source = load_lib.load_state_dict(path), str(path)
  if state_dict is not None:
    load_into(reference, fam.adapt_keys(state_dict), source=source, model=model.name)
  return TorchBackbone(model, reference).eval()


def load_into(module: torch.nn.Module, state_dict: Mapping[str, Any], *, source: str,
              model: str) -> None:
  """Strictly loads numpy/tensor `state_dict` into `module`; a mismatch names the keys."""
  tensors = {k: v if torch.is_tensor(v) else torch.from_numpy(np.array(v))
             for k, v in state_dict.items()}
  expected = module.state_dict()
  missing = sorted(set(expected) - set(tensors))
  unexpected = sorted(set(tensors) - set(expected))
  shapes = [f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in sorted(set(tensors) & set(expected))
            if tuple(tensors[k].shape) != tuple(expected[k].shape)]
  if missing or unexpected or shapes:
    raise ValueError(
        f"Weights from {source} do not fit the PyTorch reference of {model!r}: "
        f"{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} unexpected key(s) "
        f"{unexpected[:5]}, {len(shapes)} shape mismatch(es) {shapes[:3]}. Check that the file "
        "is this model's checkpoint and that config.model_overrides match it.")
  module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)


def torch_embedding_set(backbone: TorchBackbone, split: pipeline.SplitData, *,
                        batch_size: int, sample_rate: int, drop_background: bool = False,
                        meta: dict | None = None, dtype: str = "float32") -> EmbeddingSet:
  """Embeds `split` with a built (random-init, pretrained or fine-tuned) TorchBackbone.

  Args:
    backbone: `build_backbone(model, ...)` or a fine-tuned one.
    split: an opened pipeline split; its batches are read exactly as the JAX path reads them.
    batch_size: rows per batch (paper_mel3 divides by the batch maximum, so use the JAX path's
      batch size for comparable rows; padded rows are zeros and do not change the maximum).
    sample_rate: the model's input rate (`model.input_rate(dataset rate)`).
    drop_background: leave out all-background detection windows.
    meta: extra provenance stored in the EmbeddingSet.
    dtype: the JAX cell's compute dtype; "bfloat16" runs under bf16 autocast (AMP).
  """
  dev = device()
  amp = compute_dtype(dtype)
  backbone.to(dev).eval()

  def embed_fn(_, audio: np.ndarray) -> np.ndarray:
    with torch.no_grad(), autocast(dev, amp):
      out = backbone.embed_audio(audio, sample_rate)
    return out.float().cpu().numpy()

  start = time.perf_counter()
  es = extract_lib.extract(
      embed_fn, None,
      split.numpy_batches(batch_size=batch_size, sample_rate=sample_rate,
                          drop_background=drop_background),
      task=split.info.task, class_names=list(split.info.class_names),
      num_batches=split.num_batches(batch_size, drop_background=drop_background),
      desc=f"torch:{backbone.model_name}", on_device=False,
      meta=dict(meta or {}, framework="torch", torch_threads=torch.get_num_threads(),
                dtype=str(dtype), **device_info(dev)))
  es.meta["extract_seconds"] = round(time.perf_counter() - start, 3)
  return es
