"""Glue between a Flax family and its PyTorch side, where one needs facts from the other.

models/ never imports porting/ and porting/ never imports models/; a preset whose PyTorch
reference takes the Flax family's architecture table (Swin, ConvNeXt, ViT, HuBERT, AST), or whose porter checks
a buffer against the Flax model's own construction (Swin's relative-position index), is bound
here, in the room above both (CNN14's porter likewise checks the checkpoint's front-end
tensors against the input recipe's constants). Every import is inside the function, so a preset
is resolved without importing any family it does not use.
"""

from __future__ import annotations

from typing import Any, Mapping


def swin_reference(arch: str = "swin_s", **overrides):
  """torchvision's SwinTransformer with models/swin.py's `arch` hyper-parameters, random init."""
  from bioacoustics_jax.models import swin  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import swin_torch  # pylint: disable=g-import-not-at-top
  return swin_torch.torchvision_swin(**{**swin.ARCHS[arch], **overrides})


def port_swin(state_dict: Mapping[str, Any], target: Any) -> Any:
  """porting/swin.py's porter, checking torch's index buffers against the Flax model's."""
  from bioacoustics_jax.models import swin_layers  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import swin as swin_porting  # pylint: disable=g-import-not-at-top
  return swin_porting.port_swin(state_dict, target,
                                relative_position_index=swin_layers.relative_position_index)


def hubert_reference(arch: str = "hubert_base", **overrides):
  """Our independent torch model in torchaudio's `wav2vec2_model` key layout, random init."""
  from bioacoustics_jax.models import hubert  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import wav2vec2_torch  # pylint: disable=g-import-not-at-top
  return wav2vec2_torch.Wav2Vec2Model(**{**hubert.ARCHS[arch], **overrides})


def hubert_transformers_reference(arch: str = "hubert_base", **overrides):
  """transformers' `HubertModel` with the same hyper-parameters, random init."""
  from bioacoustics_jax.models import hubert  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import hubert_torch  # pylint: disable=g-import-not-at-top
  return hubert_torch.transformers_hubert(**{**hubert.ARCHS[arch], **overrides})


def ast_reference(arch: str = "ast", **overrides):
  """transformers' `ASTModel(ASTConfig(...))` with the same hyper-parameters, random init."""
  from bioacoustics_jax.models import ast  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import ast_torch  # pylint: disable=g-import-not-at-top
  return ast_torch.transformers_ast(**{**ast.ARCHS[arch], **overrides})


def convnext_reference(arch: str = "convnext_tiny", **overrides):
  """torchvision's ConvNeXt with models/convnext.py's `arch` hyper-parameters, random init."""
  from bioacoustics_jax.models import convnext  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import torchvision_cnns  # pylint: disable=g-import-not-at-top
  kwargs = {**convnext.ARCHS[arch], **overrides}
  return torchvision_cnns.convnext(**{k: v for k, v in kwargs.items() if k != "dtype"})


def convnext_transformers_reference(arch: str = "convnext_base_birdset", **overrides):
  """transformers' ConvNextForImageClassification with models/convnext.py's `arch`
  hyper-parameters, random init (BirdSet's checkpoint class)."""
  from bioacoustics_jax.models import convnext  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import convnext_transformers  # pylint: disable=g-import-not-at-top
  return convnext_transformers.transformers_convnext(**{**convnext.ARCHS[arch], **overrides})


def vit_reference(arch: str = "vit_b_16", **overrides):
  """torchvision's VisionTransformer with models/vit.py's `arch` hyper-parameters, random init."""
  from bioacoustics_jax.models import vit  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import vit_torch  # pylint: disable=g-import-not-at-top
  kwargs = {**vit.ARCHS[arch], **overrides}
  return vit_torch.torchvision_vit(**{k: v for k, v in kwargs.items() if k != "dtype"})


def port_cnn14(state_dict: Mapping[str, Any], target: Any) -> Any:
  """porting/cnn14.py's porter, checking the checkpoint's torchlibrosa front-end tensors against
  the constants of recipe `panns_logmel` (audio/recipes/extended.py)."""
  from bioacoustics_jax.audio import recipes  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import cnn14 as cnn14_porting  # pylint: disable=g-import-not-at-top
  real, imag = recipes.panns_dft_kernels()
  frontend = {"spectrogram_extractor.stft.conv_real.weight": real[:, None, :],
              "spectrogram_extractor.stft.conv_imag.weight": imag[:, None, :],
              "logmel_extractor.melW": recipes.panns_mel_filterbank()}
  return cnn14_porting.port_cnn14(state_dict, target, frontend=frontend)
def wav2vec2_family_reference(family: str, arch: str, **overrides):
  """transformers' `Wav2Vec2Model` / `WavLMModel` / `Data2VecAudioModel` (`family`) with
  models/hubert.py's `arch` hyper-parameters, random init."""
  from bioacoustics_jax.models import hubert  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import hubert_torch  # pylint: disable=g-import-not-at-top
  return hubert_torch.transformers_model(family, **{**hubert.ARCHS[arch], **overrides})


def whisper_reference(arch: str = "whisper_base", **overrides):
  """transformers' `WhisperEncoder` with models/whisper.py's `arch` hyper-parameters."""
  from bioacoustics_jax.models import whisper  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import whisper_torch  # pylint: disable=g-import-not-at-top
  return whisper_torch.transformers_whisper_encoder(**{**whisper.ARCHS[arch], **overrides})


def clap_reference(arch: str = "clap_htsat", **overrides):
  """transformers' `ClapAudioModelWithProjection` with models/clap.py's `arch` hyper-parameters."""
  from bioacoustics_jax.models import clap  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting.references import clap_torch  # pylint: disable=g-import-not-at-top
  return clap_torch.transformers_clap_audio(**{**clap.ARCHS[arch], **overrides})


def port_clap(state_dict: Mapping[str, Any], target: Any) -> Any:
  """porting/clap.py's porter, checking the blocks' index buffers against swin_layers'."""
  from bioacoustics_jax.models import swin_layers  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import clap as clap_porting  # pylint: disable=g-import-not-at-top
  return clap_porting.port_clap(state_dict, target,
                                relative_position_index=swin_layers.relative_position_index)
