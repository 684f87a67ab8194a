"""The model zoo: every model id as data (presets.py), resolved once into a Backbone.

  backbone = zoo.resolve("rn18p", overrides={}, weights_dir=None)
  backbone.module, backbone.recipe, backbone.input_rate(dataset_rate)
  backbone.init_variables(rng, sample)      # random, ported .pth, or a ported orbax dir
  backbone.torch_reference()                # the PyTorch original at random init
  zoo.get_preset(name), zoo.names(), zoo.architectures()
  python -m bioacoustics_jax.zoo --model=rn50p [--weights=FILE] [--out=DIR]   # port once

This room sits above models/ (Flax modules only) and porting/ (numpy/torch rules only) and is
what experiment.py, train/, embed/ callers and baselines/ ask; it imports a family only when a
preset of that family is used.
"""

from bioacoustics_jax.zoo.backbone import Backbone
from bioacoustics_jax.zoo.backbone import resolve
from bioacoustics_jax.zoo.preset import Preset
from bioacoustics_jax.zoo.presets import architectures
from bioacoustics_jax.zoo.presets import aves_rate_rule
from bioacoustics_jax.zoo.presets import get_preset
from bioacoustics_jax.zoo.presets import names
