"""PANNs CNN14 from its packaged model definition (panns-inference's models.py), random init.

`panns_inference/__init__.py` imports inference.py and config.py, and config.py shells out to
`wget` for AudioSet's label csv at import time. The model definition itself needs none of that,
so models.py (and its pytorch_utils.py) are loaded from the installed package under a private
package name, without running the package's __init__; `import panns_inference` elsewhere is
left untouched. Its front end is torchlibrosa's Spectrogram + LogmelFilterBank (stored in the
checkpoint as `spectrogram_extractor.stft.conv_{real,imag}.weight` and `logmel_extractor.melW`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

_PRIVATE = "_bioacoustics_jax_panns"
_INSTALL = "pip install panns-inference==0.1.1 torchlibrosa==0.1.0 (pinned in requirements.txt)"


def panns_models():
  """The `panns_inference.models` module (Cnn14, ConvBlock), imported side-effect free."""
  name = f"{_PRIVATE}.models"
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.find_spec("panns_inference")
  if spec is None or not spec.submodule_search_locations:
    raise ImportError(f"The CNN14 reference needs the panns-inference package: {_INSTALL}.")
  if importlib.util.find_spec("torchlibrosa") is None:
    raise ImportError(f"The CNN14 reference needs torchlibrosa: {_INSTALL}.")
  package = types.ModuleType(_PRIVATE)
  package.__path__ = list(spec.submodule_search_locations)
  sys.modules[_PRIVATE] = package
  return importlib.import_module(name)


def panns_cnn14(width: int = 64, num_classes: int = 527, sample_rate: int = 32000,
                window_size: int = 1024, hop_size: int = 320, mel_bins: int = 64,
                fmin: int = 50, fmax: int = 14000):
  """`Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50,
  fmax=14000, classes_num=527)` as panns_inference's AudioTagging builds it. A `width` below
  64 swaps in narrower ConvBlocks / fc1 of the package's own classes (tiny parity tests)."""
  import torch  # pylint: disable=g-import-not-at-top
  models = panns_models()
  model = models.Cnn14(sample_rate=sample_rate, window_size=window_size, hop_size=hop_size,
                       mel_bins=mel_bins, fmin=fmin, fmax=fmax, classes_num=num_classes)
  if width != 64:
    channels = [1] + [width * 2**i for i in range(6)]
    for i in range(6):
      setattr(model, f"conv_block{i + 1}", models.ConvBlock(channels[i], channels[i + 1]))
    model.fc1 = torch.nn.Linear(channels[-1], channels[-1])
    model.fc_audioset = torch.nn.Linear(channels[-1], num_classes)
  return model
