"""BioLingual (zoo/presets_bioacoustic.py): CLAP's HTS-AT with BioLingual's hub file.

The network is clap_htsat's (parity against transformers in tests/models/test_clap.py); here
the hub's file layout, a whole `ClapModel` state_dict saved as pytorch_model.bin, is put in
the weights folder under the preset's name and loaded through the zoo.
"""

import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.models import clap
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting.references import clap_torch
from tests.models import test_clap


@pytest.mark.slow  # the same porter on the same layout runs by default in test_clap.py
def test_hub_clap_model_file_loads_through_the_zoo(tmp_path):
  torch.manual_seed(4)
  full = test_clap._distinct(  # pylint: disable=protected-access
      clap_torch.transformers_clap(**{**clap.ARCHS["clap_htsat"], **test_clap.TINY}), 4)
  backbone = zoo.resolve("biolingual", test_clap.TINY, weights_dir=tmp_path)
  assert backbone.weights_path.name == "biolingual.bin"
  torch.save(full.state_dict(), backbone.weights_path)
  x = test_clap._mel(101, seed=5)  # pylint: disable=protected-access
  variables = backbone.init_variables(jax.random.key(0), x)
  _, inter = jax.jit(lambda v, x: backbone.module.apply(v, x))(variables, x)
  with torch.no_grad():
    want = full.get_audio_features(input_features=torch.from_numpy(x[:, None])).pooler_output
  assert parity.max_relative_diff(inter["embedding"], want.numpy()) <= 1e-5


def test_preset_is_clap_with_biolingual_weights():
  preset, laion = zoo.get_preset("biolingual"), zoo.get_preset("clap_htsat")
  assert (preset.architecture, preset.recipe, preset.porter) == (
      laion.architecture, laion.recipe, laion.porter)
  assert preset.bioacoustic and not laion.bioacoustic
  assert preset.weights_url.startswith("https://huggingface.co/davidrrobinson/BioLingual/")
  assert np.isclose(preset.window_seconds, 10.0)
