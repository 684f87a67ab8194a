"""The presets table: every model id the suite knows, as data, above models/ and porting/.

A preset says, for one model id: which Flax module builds it (and with which constructor
kwargs), which porter maps its PyTorch checkpoint onto that module, which PyTorch reference
(random init, the public checkpoint's key layout) it is parity-tested against, which weights file
it starts from (None: random init), which input recipe turns audio into its input, and which
parameters stay frozen when fine-tuning. Code is named by import path ("package.module:attr")
and imported only when used, so resolving `rn18` imports ResNet and nothing else (the perch /
scenic presets idea). zoo/backbone.py turns a preset into a Backbone; nothing else reads this
table's strings. What one preset holds: zoo/preset.py.
"""

from __future__ import annotations

import dataclasses

from bioacoustics_jax import registry
from bioacoustics_jax.zoo import presets_bioacoustic
from bioacoustics_jax.zoo.preset import Preset
from bioacoustics_jax.zoo.presets_perch import PERCH_PRESETS

_MODELS = "bioacoustics_jax.models."
_PORTING = "bioacoustics_jax.porting."
_REFS = "bioacoustics_jax.porting.references."
_BINDINGS = "bioacoustics_jax.zoo.bindings:"
_TORCHVISION = "https://download.pytorch.org/models/"
_TORCHAUDIO = "https://download.pytorch.org/torchaudio/models/"
_AVES = "https://storage.googleapis.com/esp-public-files/ported_aves/"
_PANNS = "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth"
_AST = "https://huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593/resolve/main/pytorch_model.bin"
# Licences of the weights files, as their publishers state them (torchvision's model weights:
# its BSD-3-Clause licence; Hugging Face files: the model card's licence tag).
_BSD3 = "BSD-3-Clause"
_APACHE = "Apache-2.0"


# torchvision's ImageNet files. The paper and BEANS load `ResNet50_Weights.DEFAULT` /
# `ResNet152_Weights.DEFAULT`, which torchvision >= 0.13 maps to IMAGENET1K_V2 (the new training
# recipe); ResNet-18 has only IMAGENET1K_V1. So `rn50p` / `rn152p` (the paper ids) take the V2
# files, and `rn50p_v1` / `rn152p_v1` keep the older V1 files for comparison.
RESNET_WEIGHTS = {18: "resnet18-f37072fd.pth", 50: "resnet50-11ad3fa6.pth",
                  152: "resnet152-f82ba261.pth"}
RESNET_V1_WEIGHTS = {50: "resnet50-0676ba61.pth", 152: "resnet152-394f9c45.pth"}


def _resnets() -> list[Preset]:
  out = []
  for depth, file in RESNET_WEIGHTS.items():
    arch = f"resnet{depth}"
    common = dict(architecture=arch, module=_MODELS + "resnet:build", module_kwargs={"arch": arch},
                  recipe="paper_mel3", embedding_dim=1000, porter=_PORTING + "resnet:port_resnet",
                  reference=_REFS + "resnet_torch:torchvision_resnet",
                  reference_kwargs={"arch": arch}, batch_norm=True,
                  embedding="1000-d fc output", folded_stem=True)
    version = "IMAGENET1K_V1" if depth == 18 else "IMAGENET1K_V2 (torchvision DEFAULT)"
    out += [
        Preset(name=arch, description=f"torchvision {arch}, random init", **common),
        Preset(name=f"rn{depth}", description=f"paper id: ResNet-{depth}, random init",
               **common),
        Preset(name=f"rn{depth}p", weights=file, weights_url=_TORCHVISION + file,
               licence=_BSD3, description=f"paper id: ResNet-{depth}, ImageNet weights {version}",
               **common),
    ]
    if depth in RESNET_V1_WEIGHTS:
      v1 = RESNET_V1_WEIGHTS[depth]
      out.append(Preset(name=f"rn{depth}p_v1", weights=v1, weights_url=_TORCHVISION + v1,
                        licence=_BSD3, description=f"ResNet-{depth}, ImageNet weights "
                        "IMAGENET1K_V1 (not the paper's DEFAULT)", **common))
  return out


def _torchvision_pair(arch: str, module: str, porter: str, reference: str, file: str,
                      random_name: str, pretrained_name: str, what: str,
                      batch_norm: bool = False) -> list[Preset]:
  common = dict(architecture=arch, module=module, recipe="paper_mel3", embedding_dim=1000,
                porter=porter, reference=reference, batch_norm=batch_norm,
                embedding="1000-d ImageNet output")
  return [
      Preset(name=random_name, description=f"torchvision {what}, random init", **common),
      Preset(name=pretrained_name, weights=file, weights_url=_TORCHVISION + file, licence=_BSD3,
             description=f"torchvision {what}, ImageNet weights", **common),
  ]


def _efficientnet(variant: str, width_mult: float, depth_mult: float, dropout: float,
                  file: str) -> list[Preset]:
  """torchvision efficientnet_b1 / _b3: B0's network with torchvision's width/depth scaling;
  the pretrained ids take the IMAGENET1K_V1 (rwightman) weights, as `efficientnet_b0p`."""
  arch = f"efficientnet_{variant}"
  scaling = {"width_mult": width_mult, "depth_mult": depth_mult}
  common = dict(architecture=arch, module=_MODELS + "efficientnet:EfficientNet",
                module_kwargs={**scaling, "dropout": dropout}, recipe="paper_mel3",
                embedding_dim=1000, porter=_PORTING + "efficientnet:port_efficientnet",
                reference=_REFS + "torchvision_cnns:efficientnet",
                reference_kwargs={**scaling, "dropout": dropout}, batch_norm=True,
                embedding="1000-d ImageNet output (global average pool -> classifier), the "
                          "paper's convention for its ImageNet CNNs")
  return [
      Preset(name=arch, description=f"torchvision {arch}, random init", **common),
      Preset(name=f"{arch}p", weights=file, weights_url=_TORCHVISION + file, licence=_BSD3,
             description=f"torchvision {arch}, ImageNet weights (IMAGENET1K_V1)", **common),
  ]


def _convnext() -> list[Preset]:
  file = "convnext_tiny-983f1562.pth"
  common = dict(
      architecture="convnext_tiny", module=_MODELS + "convnext:build",
      module_kwargs={"arch": "convnext_tiny"}, recipe="paper_mel3", embedding_dim=1000,
      porter=_PORTING + "convnext:port_convnext", reference=_BINDINGS + "convnext_reference",
      reference_kwargs={"arch": "convnext_tiny"},
      embedding="1000-d ImageNet output (global average pool -> LayerNorm -> Linear), the "
                "paper's convention for its ImageNet models",
      # torchvision convnext_tiny(): stochastic_depth_prob=0.1, linear over the 18 blocks.
      train_kwargs={"stochastic_depth_prob": 0.1})
  return [
      Preset(name="convnext_tiny", description="torchvision convnext_tiny, random init",
             **common),
      Preset(name="convnext_tinyp", weights=file, weights_url=_TORCHVISION + file, licence=_BSD3,
             description="torchvision convnext_tiny, ImageNet-1k weights (IMAGENET1K_V1)",
             **common),
  ]


def _vit() -> list[Preset]:
  file = "vit_b_16-c867db91.pth"
  common = dict(
      architecture="vit_b_16", module=_MODELS + "vit:build", module_kwargs={"arch": "vit_b_16"},
      recipe="paper_mel3_224", embedding_dim=1000, porter=_PORTING + "vit:port_vit",
      reference=_BINDINGS + "vit_reference", reference_kwargs={"arch": "vit_b_16"},
      embedding="1000-d ImageNet output (head on the final-LayerNorm class token), the paper's "
                "convention for its ImageNet models; input: the paper's mel resized to 224x224")
  # torchvision vit_b_16(): dropout 0, attention_dropout 0, so no train-mode regularisation.
  return [
      Preset(name="vit_b_16", description="torchvision vit_b_16, random init", **common),
      Preset(name="vit_b_16p", weights=file, weights_url=_TORCHVISION + file, licence=_BSD3,
             description="torchvision vit_b_16, ImageNet-1k weights (IMAGENET1K_V1)", **common),
  ]


def _cnn14() -> list[Preset]:
  file = "Cnn14_mAP=0.431.pth"  # panns_inference's AudioTagging default (the file it fetches)
  common = dict(
      architecture="cnn14", module=_MODELS + "cnn14:Cnn14", recipe="panns_logmel",
      embedding_dim=2048, porter=_BINDINGS + "port_cnn14",
      reference=_REFS + "cnn14_torch:panns_cnn14", batch_norm=True,
      embedding="2048-d fc1 output (ReLU) after mean over mel and max + mean over time: "
                "panns_inference's `embedding`",
      # panns Cnn14: dropout 0.2 after each conv block, 0.5 before and after fc1.
      train_kwargs={"block_dropout": 0.2, "head_dropout": 0.5})
  return [
      # PANNs (qiuqiangkong/audioset_tagging_cnn): MIT.
      Preset(name="cnn14", weights=file, weights_url=_PANNS, licence="MIT",
             description="PANNs CNN14 (AudioSet tagging, 32 kHz log-mel), panns_inference "
                         "weights", **common),
      Preset(name="cnn14_random", description="PANNs CNN14, random init", **common),
  ]


def _hubert(name: str, file: str, url: str, licence: str, description: str,
            bioacoustic: bool = False) -> Preset:
  return Preset(
      name=name, architecture="hubert_base", module=_MODELS + "hubert:build",
      module_kwargs={"arch": "hubert_base"}, recipe="waveform16k", embedding_dim=768,
      porter=_PORTING + "hubert:port_hubert", reference=_BINDINGS + "hubert_reference",
      reference_kwargs={"arch": "hubert_base"}, weights=file, weights_url=url + file,
      # The paper (BEANS/AVES recipe) fine-tunes with the CNN feature encoder frozen.
      frozen_prefixes=("feature_extractor",), embedding="mean over time of the last layer, 768-d",
      # torchaudio hubert_base() and the AVES model_config agree (presets_bioacoustic.py).
      train_kwargs=presets_bioacoustic.AVES_TRAIN, licence=licence,
      bioacoustic=bioacoustic, description=description)


_HF = "https://huggingface.co/"
# Fine-tuning regularisation: the HuBERT/AVES values above (dropout, attention and projection
# dropout 0.1, LayerDrop 0.05), the fairseq base-model fine-tuning recipe; not read from each
# checkpoint's config.json (transformers' own defaults for these classes are 0.1/0.1/0.0/0.1).
_SSL_TRAIN = {"dropout": 0.1, "attention_dropout": 0.1, "projection_dropout": 0.1,
              "layer_drop": 0.05}


def _speech_ssl(name: str, arch: str, family: str, repo: str, recipe: str, licence: str,
                description: str) -> Preset:
  """A transformers wav2vec 2.0-family checkpoint (models/hubert.py, porting/hubert.py)."""
  # The hub's pytorch_model.bin, saved under this name (names in the weights folder are unique).
  file = f"{name}.bin"
  return Preset(
      name=name, architecture=arch, module=_MODELS + "hubert:build", module_kwargs={"arch": arch},
      recipe=recipe, embedding_dim=768, porter=_PORTING + "hubert:port_hubert",
      reference=_BINDINGS + "wav2vec2_family_reference",
      reference_kwargs={"family": family, "arch": arch}, weights=file,
      weights_url=f"{_HF}{repo}/resolve/main/pytorch_model.bin",
      frozen_prefixes=("feature_extractor",),
      embedding="mean over time of the last layer, 768-d (as AVES in the paper; no attention "
                "mask: equal-length clips)",
      train_kwargs=_SSL_TRAIN, licence=licence, description=description)


def _swin(name: str, description: str) -> Preset:
  file = "swin_s-5e29d889.pth"
  return Preset(
      name=name, architecture="swin_s", module=_MODELS + "swin:build",
      module_kwargs={"arch": "swin_s"}, recipe="paper_mel3", embedding_dim=1000,
      porter=_BINDINGS + "port_swin", reference=_BINDINGS + "swin_reference",
      reference_kwargs={"arch": "swin_s"}, weights=file, weights_url=_TORCHVISION + file,
      licence=_BSD3, embedding="1000-d ImageNet head output", description=description,
      # torchvision swin_s(): stochastic_depth_prob=0.2 for swin_t, 0.3 for swin_s, 0.5 for
      # swin_b (linearly increasing over the blocks; dropout and attention dropout 0).
      train_kwargs={"stochastic_depth_prob": 0.3})


_SEQUENTIAL = _PORTING + "sequential_cnns:port_sequential"


def _clap() -> list[Preset]:
  """CLAP's audio encoder (HTS-AT + audio projection), laion/clap-htsat-unfused's layout."""
  common = dict(
      architecture="clap_htsat", module=_MODELS + "clap:build",
      module_kwargs={"arch": "clap_htsat"}, recipe="clap_logmel", embedding_dim=512,
      porter=_BINDINGS + "port_clap", reference=_BINDINGS + "clap_reference",
      reference_kwargs={"arch": "clap_htsat"}, batch_norm=True, window_seconds=10.0,
      embedding="ClapModel.get_audio_features: the 768-d mean over HTS-AT's last-stage tokens "
                "through the audio projection (Linear-ReLU-Linear), L2-normalised, 512-d",
      # transformers' ClapAudioConfig: hidden_dropout_prob 0.1 on each MLP output,
      # drop_path_rate 0.0, attention dropout 0.0.
      train_kwargs={"mlp_dropout": 0.1})
  return [
      Preset(name="clap_htsat", weights="clap-htsat-unfused.safetensors",
             weights_alternatives=("clap-htsat-unfused.bin",),
             weights_url=_HF + "laion/clap-htsat-unfused/resolve/main/model.safetensors",
             licence=_APACHE,
             description="CLAP audio encoder (HTS-AT, LAION-Audio-630K audio-text contrastive; "
                         "the hub's ClapModel file, text tower left out)", **common),
      Preset(name="clap_htsat_random", description="CLAP's HTS-AT audio encoder, random init",
             **common),
  ]


# The whole sha256 of a weights file, where public sources state it (each digest below is
# written out in several unrelated public repositories that pin these files, and its first 8
# digits are the ones in the file name). Every preset with that file carries it as `sha256`;
# `python -m bioacoustics_jax.zoo --download=...` checks it (zoo/download.py).
WEIGHTS_SHA256 = {
    "resnet18-f37072fd.pth": "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    "resnet50-11ad3fa6.pth": "11ad3fa62ca79e40addfd354a8ec4b7c75143b3038b8d2a807fbc68deab379ca",
    "alexnet-owt-7be5be79.pth":
        "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
    "vggish-10086976.pth": "10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
}


def _with_sha256(table) -> tuple[Preset, ...]:
  return tuple(dataclasses.replace(p, sha256=WEIGHTS_SHA256[p.weights])
               if p.weights in WEIGHTS_SHA256 else p for p in table)


PRESETS: tuple[Preset, ...] = _with_sha256((
    *_resnets(),
    *_torchvision_pair("alexnet", _MODELS + "alexnet:AlexNet", _SEQUENTIAL,
                       _REFS + "torchvision_cnns:alexnet", "alexnet-owt-7be5be79.pth",
                       "alexnet", "alex", "alexnet (paper id `alex` with ImageNet weights)"),
    *_torchvision_pair("vgg16", _MODELS + "vgg:VGG", _SEQUENTIAL,
                       _REFS + "torchvision_cnns:vgg16", "vgg16-397923af.pth",
                       "vgg16", "vgg16p", "vgg16"),
    *_torchvision_pair("efficientnet_b0", _MODELS + "efficientnet:EfficientNet",
                       _PORTING + "efficientnet:port_efficientnet",
                       _REFS + "torchvision_cnns:efficientnet_b0",
                       "efficientnet_b0_rwightman-7f5810bc.pth", "efficientnet_b0",
                       "efficientnet_b0p", "efficientnet_b0", batch_norm=True),
    *_efficientnet("b1", 1.0, 1.1, 0.2, "efficientnet_b1_rwightman-bac287d4.pth"),
    *_efficientnet("b3", 1.2, 1.4, 0.3, "efficientnet_b3_rwightman-b3899882.pth"),
    *_convnext(),
    *_vit(),
    Preset(name="vggish", architecture="vggish", module=_MODELS + "vggish:VGGish",
           recipe="vggish_logmel", embedding_dim=128, porter=_SEQUENTIAL,
           reference=_REFS + "vggish_torch:vggish", weights="vggish-10086976.pth",
           weights_url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
                       "vggish-10086976.pth",
           licence=_APACHE,  # torchvggish's port of Google's VGGish (tensorflow/models)
           embedding="128-d per 0.96 s patch, mean over patches; no PCA postprocessing",
           description="paper id: VGGish (AudioSet, torchvggish port)"),
    _swin("swin_s", "torchvision swin_s, ImageNet-1k weights (IMAGENET1K_V1)"),
    _swin("swin", "paper id: Swin-S, ImageNet weights"),
    _hubert("hubert_base", "hubert_fairseq_base_ls960.pth", _TORCHAUDIO, "MIT (fairseq)",
            "HuBERT-base (fairseq, LibriSpeech 960 h) via torchaudio's HUBERT_BASE"),
    _hubert("aves", "aves-base-bio.torchaudio.pt", _AVES, presets_bioacoustic.AVES_LICENCE,
            "paper id: AVES-bio (HuBERT-base, 360 h bio audio)", bioacoustic=True),
    _hubert("aves_all", "aves-base-all.torchaudio.pt", _AVES, presets_bioacoustic.AVES_LICENCE,
            "paper id: AVES-all (HuBERT-base, 5054 h)", bioacoustic=True),
    # Input normalisation as each checkpoint's preprocessor_config.json (do_normalize).
    _speech_ssl("wav2vec2_base", "wav2vec2_base", "wav2vec2", "facebook/wav2vec2-base",
                "waveform16k_norm", _APACHE, "wav2vec 2.0 base (LibriSpeech 960 h, "
                "self-supervised; Wav2Vec2ForPreTraining checkpoint, heads left out)"),
    _speech_ssl("wavlm_base_plus", "wavlm_base_plus", "wavlm", "microsoft/wavlm-base-plus",
                "waveform16k", "MIT (microsoft/unilm)", "WavLM base+ (94k h Libri-Light/"
                "GigaSpeech/VoxPopuli, gated relative position bias)"),
    _speech_ssl("data2vec_audio_base", "data2vec_audio_base", "data2vec_audio",
                "facebook/data2vec-audio-base", "waveform16k_norm", _APACHE,
                "data2vec-audio base (LibriSpeech 960 h, self-supervised)"),
    Preset(name="whisper_base", architecture="whisper_base", module=_MODELS + "whisper:build",
           module_kwargs={"arch": "whisper_base"}, recipe="whisper_logmel", embedding_dim=512,
           porter=_PORTING + "whisper:port_whisper", reference=_BINDINGS + "whisper_reference",
           reference_kwargs={"arch": "whisper_base"}, weights="whisper-base.safetensors",
           weights_url=_HF + "openai/whisper-base/resolve/main/model.safetensors",
           licence=_APACHE,
           # transformers keeps the sinusoidal position table fixed (requires_grad False).
           frozen_prefixes=("embed_positions",), window_seconds=30.0,
           embedding="mean over the clip's 20 ms positions of the encoder's last layer (after "
                     "its final LayerNorm; the 30 s padding left out), 512-d",
           # openai/whisper-base config.json: dropout, attention/activation dropout and
           # encoder_layerdrop are all 0.0, so fine-tuning adds no regularisation.
           description="Whisper base encoder (680k h weakly supervised speech; decoder left "
                       "out), the hub's model.safetensors saved under this name"),
    Preset(name="ast", architecture="ast", module=_MODELS + "ast:build",
           module_kwargs={"arch": "ast"}, recipe="ast_fbank", embedding_dim=768,
           porter=_PORTING + "ast:port_ast", reference=_BINDINGS + "ast_reference",
           reference_kwargs={"arch": "ast"}, window_seconds=10.24,  # 1024 frames of 10 ms
           weights="ast-finetuned-audioset-10-10-0.4593.bin",  # the hub's pytorch_model.bin
           # ...or the hub's model.safetensors, renamed or in the hub's folder layout (the file
           # format is read from the content, porting/load.py).
           weights_alternatives=("ast-finetuned-audioset-10-10-0.4593.safetensors",
                                 "ast-finetuned-audioset-10-10-0.4593/model.safetensors"),
           weights_url=_AST, licence=_BSD3,
           embedding="mean of the cls and distillation tokens, 768-d",
           description="AST (AudioSet fine-tuned, 10x10 patches)"),
    *_cnn14(),
    *_clap(),
    # BEANS' handcrafted baseline: librosa-default MFCCs at the dataset's own rate; frozen only
    # (no parameters to fine-tune).
    Preset(name="mfcc", architecture="mfcc", module=_MODELS + "mfcc:MFCCStats",
           recipe="mfcc_logmel", embedding_dim=40, parity="librosa", trainable=False,
           embedding="mean || std over frames of 20 MFCCs (librosa defaults), 40-d",
           description="handcrafted baseline: MFCC statistics, no parameters"),
    *presets_bioacoustic.PRESETS,
    *PERCH_PRESETS,
))


# The paper's 11 model ids, in its tables' order.
PAPER_MODELS = ("alex", "rn18", "rn18p", "rn50", "rn50p", "rn152", "rn152p", "vggish", "swin",
                "aves_all", "aves")
# The paper's AVES ids: the models `aves_input_rate` applies to (experiments/configs/
# beans_paper.py says why the paper mode feeds them the dataset's rate).
AVES_MODELS = ("aves", "aves_all")
AVES_INPUT_RATES = ("16000", "dataset")


def aves_rate_rule(name: str, aves_input_rate: object) -> str:
  """The Backbone rate rule for model `name` under the config's `aves_input_rate`."""
  value = str(aves_input_rate)
  if value not in AVES_INPUT_RATES:
    raise ValueError(f"--config.aves_input_rate={aves_input_rate!r} is not one of "
                     f"{list(AVES_INPUT_RATES)} (16000: resample to AVES' training rate; "
                     "dataset: feed the dataset's own rate, as the paper's code did).")
  return "dataset" if value == "dataset" and name in AVES_MODELS else "model"


def _index(presets) -> dict[str, Preset]:
  out: dict[str, Preset] = {}
  for p in presets:
    if p.name in out:
      raise ValueError(f"Model name {p.name!r} is defined twice in the presets table.")
    out[p.name] = p
  return out


_BY_NAME = _index(PRESETS)


def get_preset(name: str) -> Preset:
  """The preset called `name`; an unknown name lists the known ones."""
  try:
    return _BY_NAME[name]
  except KeyError:
    raise registry.unknown_name("model", name, list(names())) from None


def bioacoustic_models() -> tuple[str, ...]:
  """Every preset with weights trained on animal sounds, in table order (the configs'
  `bioacoustic` model set)."""
  return tuple(p.name for p in PRESETS if p.bioacoustic and p.weights)


def random_init_twin(name: str) -> str | None:
  """The first random-init preset with `name`'s network and input (same architecture, module
  kwargs and recipe, no weights): the smoke grid's stand-in for a pretrained model."""
  preset = get_preset(name)
  return next((p.name for p in PRESETS if p.weights is None and p.architecture ==
               preset.architecture and p.recipe == preset.recipe and
               dict(p.module_kwargs) == dict(preset.module_kwargs)), None)


def names() -> list[str]:
  return sorted(_BY_NAME)


def architectures() -> set[str]:
  return {p.architecture for p in PRESETS}
