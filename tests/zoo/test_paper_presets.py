"""Paper-mode model switches: the ResNet-50/152 files are torchvision's DEFAULT (IMAGENET1K_V2),
as the paper loads them, and the AVES input rate (16 kHz or the dataset's own) is a Backbone rule
that reaches the cell key."""

import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.zoo import presets


def test_paper_resnets_use_torchvision_default_weights():
  import bioacoustics_jax.torch_compat  # noqa: F401  (torchvision's CUDA _C.so on CPU torch)
  from torchvision import models  # pylint: disable=g-import-not-at-top
  defaults = {"rn18p": models.ResNet18_Weights, "rn50p": models.ResNet50_Weights,
              "rn152p": models.ResNet152_Weights, "alex": models.AlexNet_Weights,
              "swin": models.Swin_S_Weights}
  for name, weights in defaults.items():
    preset = zoo.get_preset(name)
    assert weights.DEFAULT.url.rsplit("/", 1)[1] == preset.weights, name
    assert preset.weights_url == weights.DEFAULT.url, name
  assert zoo.get_preset("rn50p").weights == "resnet50-11ad3fa6.pth"  # IMAGENET1K_V2
  assert zoo.get_preset("rn152p").weights == "resnet152-f82ba261.pth"
  assert zoo.get_preset("rn50p_v1").weights == models.ResNet50_Weights.IMAGENET1K_V1.url.rsplit(
      "/", 1)[1]
  assert zoo.get_preset("rn152p_v1").weights == "resnet152-394f9c45.pth"


def test_aves_input_rate_rule(tmp_path):
  assert presets.aves_rate_rule("aves", "dataset") == "dataset"
  assert presets.aves_rate_rule("aves_all", "dataset") == "dataset"
  assert presets.aves_rate_rule("rn18", "dataset") == "model"  # only the AVES ids
  assert presets.aves_rate_rule("aves", 16000) == "model"
  with pytest.raises(ValueError, match="aves_input_rate"):
    presets.aves_rate_rule("aves", "44100")
  resampled = zoo.resolve("aves", weights_dir=tmp_path)
  native = zoo.resolve("aves", weights_dir=tmp_path, rate_rule="dataset")
  assert resampled.input_rate(44100) == 16000 and resampled.recipe.name == "waveform16k"
  assert native.input_rate(44100) == 44100 and native.recipe.name == "waveform"
  # The rule is part of the Backbone's identity, hence of every cell key.
  assert "rate_rule" not in resampled.identity()
  assert native.identity()["rate_rule"] == "dataset"
  assert native.identity()["recipe"] == "waveform"
  # A mel/fbank recipe is defined at its own rate: feeding another one is refused.
  with pytest.raises(ValueError, match="cannot take the dataset's rate"):
    zoo.resolve("vggish", weights_dir=tmp_path, rate_rule="dataset")


def test_ast_accepts_the_hubs_safetensors_by_content(tmp_path):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import load as load_lib  # pylint: disable=g-import-not-at-top
  tensors = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
  # The hub's model.safetensors, in the hub's folder layout: found, and read by content.
  hub = tmp_path / "ast-finetuned-audioset-10-10-0.4593" / "model.safetensors"
  hub.parent.mkdir()
  save_file(tensors, str(hub))
  backbone = zoo.resolve("ast", weights_dir=tmp_path)
  assert backbone.weights_path == hub
  backbone.check_weights()  # no MissingWeightsError
  # Saved under the legacy .bin name, it is still read as safetensors (content, not name).
  legacy = tmp_path / "ast-finetuned-audioset-10-10-0.4593.bin"
  hub.rename(legacy)
  assert zoo.resolve("ast", weights_dir=tmp_path).weights_path == legacy
  assert load_lib.is_safetensors(legacy)
  np.testing.assert_array_equal(load_lib.load_state_dict(legacy)["a.weight"], tensors["a.weight"])
  import torch  # pylint: disable=g-import-not-at-top
  torch.save({"a.weight": torch.zeros(2)}, str(tmp_path / "t.pth"))
  assert not load_lib.is_safetensors(tmp_path / "t.pth")
