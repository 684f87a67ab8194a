"""The zoo's models trained on animal sounds (issue 26), beyond the paper's AVES: presets only.

Each row reuses a family the zoo already has, with the original's weights and input recipe:
  * BirdAVES (Earth Species Project, 2024): AVES' HuBERT scaled up and trained on bird sounds,
    ESP's torchaudio files (models/hubert.py, porting/hubert.py; the large ones are the
    `birdaves_large` architecture: HuBERT-large widths on the base layout);
  * BioLingual (Robinson et al. 2023): a transformers ClapModel of laion/clap-htsat-unfused's
    layout trained on AnimalSpeak (models/clap.py, porting/clap.py; the text tower left out);
  * BirdSet's ConvNeXt-Base (Rauch et al. 2024): transformers' ConvNext on BirdSet's 1-channel
    dB mel at 32 kHz (models/convnext.py, porting/convnext.py, audio/recipes/birdset.py).
zoo/presets.py includes `PRESETS` below in the one table. Licences are those the weights'
publishers state (README, model card); "not stated" where the card names none.
"""

from __future__ import annotations

from bioacoustics_jax.zoo.preset import Preset

_MODELS = "bioacoustics_jax.models."
_PORTING = "bioacoustics_jax.porting."
_BINDINGS = "bioacoustics_jax.zoo.bindings:"
_HF = "https://huggingface.co/"
_BIRDAVES = "https://storage.googleapis.com/esp-public-files/birdaves/"
# ESP's AVES and BirdAVES weights (earthspecies/aves; the code itself is MIT).
AVES_LICENCE = "CC BY-NC-SA 4.0"
# Fine-tuning regularisation of every AVES / BirdAVES torchaudio model_config.json (the
# earthspecies/aves configs for aves-base-all and birdaves-biox-large agree):
# encoder_dropout 0.1, encoder_attention_dropout 0.1, encoder_projection_dropout 0.1,
# encoder_layer_drop 0.05 (encoder_ff_interm_dropout 0.0).
AVES_TRAIN = {"dropout": 0.1, "attention_dropout": 0.1, "projection_dropout": 0.1,
              "layer_drop": 0.05}


def _birdaves(name: str, arch: str, dim: int, data: str) -> Preset:
  file = f"{name.replace('_', '-')}.torchaudio.pt"
  return Preset(
      name=name, architecture=arch, module=_MODELS + "hubert:build",
      module_kwargs={"arch": arch}, recipe="waveform16k", embedding_dim=dim,
      porter=_PORTING + "hubert:port_hubert",
      # As `aves`: a torch model in torchaudio's layout, so the PyTorch baseline loads ESP's file
      # as it is (parity against transformers' HubertModel: tests/models/test_birdaves.py).
      reference=_BINDINGS + "hubert_reference", reference_kwargs={"arch": arch}, weights=file,
      weights_url=_BIRDAVES + file,
      # As AVES in the paper (BEANS recipe): the CNN feature encoder stays frozen.
      frozen_prefixes=("feature_extractor",),
      embedding=f"mean over time of the last layer, {dim}-d (as AVES)",
      train_kwargs=AVES_TRAIN, licence=AVES_LICENCE, bioacoustic=True,
      description=f"BirdAVES {data} (ESP's torchaudio port)")


def _biolingual() -> Preset:
  return Preset(
      name="biolingual", architecture="clap_htsat", module=_MODELS + "clap:build",
      module_kwargs={"arch": "clap_htsat"}, recipe="clap_logmel", embedding_dim=512,
      porter=_BINDINGS + "port_clap", reference=_BINDINGS + "clap_reference",
      reference_kwargs={"arch": "clap_htsat"}, batch_norm=True, window_seconds=10.0,
      # The hub's pytorch_model.bin (a whole ClapModel; the porter leaves the text tower out).
      weights="biolingual.bin",
      weights_url=_HF + "davidrrobinson/BioLingual/resolve/main/pytorch_model.bin",
      embedding="ClapModel.get_audio_features: the projected HTS-AT embedding, L2-normalised, "
                "512-d (as clap_htsat)",
      train_kwargs={"mlp_dropout": 0.1}, licence="not stated (model card)", bioacoustic=True,
      description="BioLingual (CLAP HTS-AT trained on AnimalSpeak's 1.1M animal-sound "
                  "captions), the hub's ClapModel file")


def _birdset_convnext() -> list[Preset]:
  common = dict(
      architecture="convnext_base_birdset", module=_MODELS + "convnext:build",
      module_kwargs={"arch": "convnext_base_birdset"}, recipe="birdset_mel",
      embedding_dim=1024, porter=_PORTING + "convnext:port_transformers_convnext",
      reference=_BINDINGS + "convnext_transformers_reference",
      reference_kwargs={"arch": "convnext_base_birdset"}, window_seconds=5.0,
      embedding="ConvNextModel's pooler_output: global average pool -> LayerNorm, 1024-d (the "
                "9736 XCL species logits are the classifier's)")
  file = "convnext-base-birdset-xcl.safetensors"  # the hub's model.safetensors, renamed
  return [
      Preset(name="convnext_base_birdset", weights=file,
             weights_url=_HF + "DBD-research-group/ConvNeXT-Base-BirdSet-XCL/resolve/main/"
                               "model.safetensors",
             licence="not stated (model card)", bioacoustic=True,
             description="BirdSet ConvNeXt-Base (transformers ConvNext, 1-channel 32 kHz mel, "
                         "trained on XCL: 9736 Xeno-canto bird species)", **common),
      Preset(name="convnext_base_birdset_random",
             description="BirdSet's ConvNeXt-Base, random init", **common),
  ]


PRESETS: tuple[Preset, ...] = (
    _birdaves("birdaves_biox_base", "hubert_base", 768,
              "biox-base (HuBERT-base, AVES-bio + Xeno-canto, 2570 h)"),
    _birdaves("birdaves_biox_large", "birdaves_large", 1024,
              "biox-large (HuBERT-large widths, AVES-bio + Xeno-canto, 2570 h)"),
    # Layout assumed equal to biox-large's published config (no bioxn config in the repo).
    _birdaves("birdaves_bioxn_large", "birdaves_large", 1024,
              "bioxn-large (HuBERT-large widths, + iNaturalist, 3076 h)"),
    _biolingual(),
    *_birdset_convnext(),
)
