"""The presets table: every architecture is instantiated at full size with the original's
parameter count and has a PyTorch parity test; names fail loudly (vision_transformer's
`test_all_tested`, as a static table).

How "has a parity test" is known: each family's test module (tests/models/test_<family>.py)
adds the architectures it checks against PyTorch to `tests.models.parity_registry.PARITY_TESTED`
at import time. This test imports every tests/models/test_*.py module (so it works under any
test selection or xdist split) and compares that set with the table's architectures.
"""

import importlib
import pathlib

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.zoo import preset as preset_lib
from bioacoustics_jax.zoo import presets
from tests.models import parity_registry

PAPER_IDS = ("alex", "rn18", "rn18p", "rn50", "rn50p", "rn152", "rn152p", "vggish", "swin",
             "aves", "aves_all")
# Full-size parameter counts of the PyTorch originals (torchvision / transformers / torchaudio;
# HuBERT, wav2vec 2.0, WavLM: torch stores the positional conv's weight norm as g and v, 128
# more numbers than the one folded kernel we keep; transformers' training-only
# masked_spec_embed is not counted; Whisper: the encoder of whisper-base).
PARAMS = {
    "resnet18": 11_689_512, "resnet50": 25_557_032, "resnet152": 60_192_808,
    "alexnet": 61_100_840, "vgg16": 138_357_544, "efficientnet_b0": 5_288_548,
    "vggish": 72_141_184, "swin_s": 49_606_258, "hubert_base": 94_370_816, "ast": 86_187_264,
    "mfcc": 0, "efficientnet_b1": 7_794_184, "efficientnet_b3": 12_233_232,
    "convnext_tiny": 28_589_128, "vit_b_16": 86_567_656,
    # PANNs: trainable parameters; the frozen torchlibrosa front end (DFT kernels, melW) is the
    # input recipe here, not parameters.
    "cnn14": 80_753_615, "wav2vec2_base": 94_370_816, "wavlm_base_plus": 94_381_040,
    "data2vec_audio_base": 93_163_520, "whisper_base": 20_590_592,
    "clap_htsat": 28_190_872,
    # BirdAVES large: the AVES README's "~316M parameters" (tests/models/test_birdaves.py).
    "birdaves_large": 315_427_840,
    # BirdSet's leaderboard: 97.5M (tests/models/test_convnext_birdset.py).
    "convnext_base_birdset": 97_541_768,
    # chirp's EfficientNets on a 1-channel spectrogram (the Perch models), trainable parameters:
    # Keras's no-top B3 10,783,535 / B1 6,575,239 (3 channels) less its input Normalization (7),
    # 18 x the stem's output channels (2 input channels fewer) and the BN moving statistics
    # (87,296 / 62,048, batch_stats here).
    "chirp_efficientnet_b3": 10_695_512, "chirp_efficientnet_b1": 6_512_608,
}


def _import_family_tests():
  for path in sorted((pathlib.Path(__file__).parents[1] / "models").glob("test_*.py")):
    importlib.import_module(f"tests.models.{path.stem}")


def test_all_architectures_have_parity_tests():
  _import_family_tests()
  untested = zoo.architectures() - parity_registry.PARITY_TESTED
  assert not untested, (
      f"Architectures without a PyTorch parity test: {sorted(untested)}. Add one in "
      "tests/models/test_<family>.py and list it in parity_registry.PARITY_TESTED.")
  # A stale entry (a tested name that no longer exists) is a typo or a removed model.
  assert parity_registry.PARITY_TESTED <= zoo.architectures(), (
      parity_registry.PARITY_TESTED - zoo.architectures())


def test_every_architecture_is_in_the_parameter_table():
  assert set(PARAMS) == zoo.architectures()


@pytest.mark.parametrize("architecture", sorted(PARAMS))
def test_full_size_parameter_count(architecture):
  preset = next(p for p in presets.PRESETS if p.architecture == architecture)
  backbone = zoo.resolve(preset.name)
  sample = backbone.sample_input()
  shapes = jax.eval_shape(lambda x: backbone.module.init(jax.random.key(0), x), sample)
  count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes.get("params", {})))
  assert count == PARAMS[architecture]
  embedding = jax.eval_shape(lambda v, x: backbone.module.apply(v, x)[1]["embedding"], shapes,
                             sample)
  assert embedding.shape == (1, preset.embedding_dim)


@pytest.mark.parametrize("name", zoo.names())
def test_every_preset_is_complete(name):
  preset = zoo.get_preset(name)
  assert preset.recipe and preset.embedding and callable(preset_lib.load_attr(preset.module))
  assert preset.parity in ("torch", "keras", "librosa")
  if preset.parity == "torch":
    assert preset.porter and preset.reference and callable(preset_lib.load_attr(preset.porter))
  elif preset.parity == "keras":  # the reference is Keras in the test, the porter reads TF
    assert preset.porter and preset.reference is None
    assert callable(preset_lib.load_attr(preset.porter))
  else:
    assert preset.weights is None and preset.reference is None
  if preset.weights is not None:
    assert preset.weights_url.startswith("https://")
  if preset.family in ("resnet", "alexnet", "vgg", "efficientnet"):
    assert preset.weights is None or preset.weights_url.endswith("/" + preset.weights)


def test_every_preset_with_weights_states_its_licence():
  for preset in presets.PRESETS:
    assert bool(preset.licence) == (preset.weights is not None), preset.name
    assert not preset.bioacoustic or preset.weights, preset.name


def test_bioacoustic_models_are_computed_from_the_flags():
  models = presets.bioacoustic_models()
  assert {"aves", "aves_all", "birdaves_biox_base", "birdaves_bioxn_large",
          "biolingual"} <= set(models)
  assert "rn18p" not in models and "clap_htsat" not in models
  assert all(zoo.get_preset(m).bioacoustic for m in models)


def test_paper_ids_are_presets():
  assert set(PAPER_IDS) <= set(zoo.names())
  assert {"efficientnet_b0p", "vgg16p", "ast", "hubert_base"} <= set(zoo.names())


def test_unknown_name_lists_known_ones():
  with pytest.raises(KeyError) as err:
    zoo.resolve("resnet9000")
  assert "rn50p" in str(err.value) and "vggish" in str(err.value)


def test_duplicate_names_fail():
  with pytest.raises(ValueError, match="defined twice"):
    presets._index([zoo.get_preset("rn18"), zoo.get_preset("rn18")])  # pylint: disable=protected-access


def test_presets_are_read_only():
  with pytest.raises(TypeError):
    zoo.get_preset("rn18").module_kwargs["arch"] = "resnet50"


def _readme_rows() -> dict[str, str]:
  readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
  return {line.split("`")[1]: line for line in readme.splitlines()
          if line.startswith("| `") and line.split("`")[1] in zoo.names()}


def test_readme_model_rows_match_the_presets():
  """Every README table row naming a preset states its weights file, URL and input rate."""
  rows = _readme_rows()
  assert {"efficientnet_b1p", "efficientnet_b3p", "convnext_tinyp", "vit_b_16p",
          "cnn14"} <= set(rows)
  assert set(presets.bioacoustic_models()) - set(PAPER_IDS) <= set(rows)
  for name, row in rows.items():
    preset = zoo.get_preset(name)
    assert f"`{preset.weights}`" in row and f"({preset.weights_url})" in row, name
    assert f"`{preset.recipe}`" in row, name
    rate = zoo.resolve(name).recipe.sample_rate
    assert (f"{rate // 1000} kHz" if rate else "dataset's rate") in row, name
    if preset.bioacoustic and name not in PAPER_IDS:  # the animal-sound table states licences
      assert f"| {preset.licence} |" in row, name
    if not name.endswith("_random"):
      assert name.removesuffix("p") in zoo.names(), f"{name}: random-init twin missing"
