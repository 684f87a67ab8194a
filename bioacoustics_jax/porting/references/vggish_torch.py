"""An independent PyTorch VGGish with the torchvggish checkpoint's key layout.

torchvggish (the PyTorch port of AudioSet's VGGish, weights file `vggish-10086976.pth`) pulls in
resampy and downloads weights at construction time, so it is not a dependency here. This module
rebuilds the same network from its published structure, with the same state_dict keys:
  features.{0,3,6,8,11,13}: 3x3 convs (64, 128, 256, 256, 512, 512 channels), each + ReLU, with
    2x2/2 max-pools after convs 0, 3, 8 and 13 (Sequential indices 2, 5, 10, 15);
  embeddings.{0,2,4}: Linear 12288 -> 4096 -> 4096 -> 128, each followed by ReLU.
Input is [N, 1, 96, 64] (0.96 s x 64 mel bands). Before the Linear layers the [N, 512, 6, 4]
map is flattened in (H, W, C) order (torchvggish transposes NCHW to NHWC first, to match the
TensorFlow original); getting that order wrong would silently scramble ported weights.
The PCA/quantisation postprocessor is not included (see models/vggish.py for why).
"""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before anything imports torchvision)

# Channels per conv, "M" = max-pool: the layout behind the Sequential indices above.
CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


def vggish(width: int = 64, hidden: int = 4096, embedding_dim: int = 128):
  """Random-init torch VGGish; `width`/`hidden` narrow it for fast tests (64/4096 = real)."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top

  class VGGish(nn.Module):
    """Conv stack + three-Linear embedding head; forward takes [N, 1, 96, 64]."""

    def __init__(self):
      super().__init__()
      layers, channels = [], 1
      for item in CONFIG:
        if item == "M":
          layers.append(nn.MaxPool2d(2, 2))
        else:
          out = item * width // 64
          layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=True)]
          channels = out
      self.features = nn.Sequential(*layers)
      self.embeddings = nn.Sequential(
          nn.Linear(channels * 6 * 4, hidden), nn.ReLU(inplace=True),
          nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
          nn.Linear(hidden, embedding_dim), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
      x = self.features(x)                        # [N, C, 6, 4]
      x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (H, W, C) order, as torchvggish
      return self.embeddings(x)

  return VGGish()
