"""torchvision AlexNet / VGG-16, optionally narrowed (for fast parity tests).

At full size these are exactly `torchvision.models.alexnet()` / `vgg16()`. Narrow variants keep
torchvision's classes and key layout and only swap in smaller layers, so the parity tests still
exercise torchvision's own forward code.
"""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)


def alexnet(num_classes: int = 1000, hidden: int = 4096):
  """`torchvision.models.alexnet(num_classes=...)`, random init, classifier width `hidden`."""
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top

  model = torchvision.models.alexnet(num_classes=num_classes)
  if hidden != 4096:
    model.classifier[1] = torch.nn.Linear(256 * 6 * 6, hidden)
    model.classifier[4] = torch.nn.Linear(hidden, hidden)
    model.classifier[6] = torch.nn.Linear(hidden, num_classes)
  return model


def vgg16(width: int = 64, hidden: int = 4096, num_classes: int = 1000):
  """`torchvision.models.vgg16(num_classes=...)`; convs scaled by width/64, classifier `hidden`."""
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from torchvision.models import vgg  # pylint: disable=g-import-not-at-top

  if width == 64 and hidden == 4096:
    return torchvision.models.vgg16(num_classes=num_classes)
  config = [c if c == "M" else c * width // 64 for c in vgg.cfgs["D"]]
  model = vgg.VGG(vgg.make_layers(config), num_classes=num_classes)
  last = config[-2]
  model.classifier[0] = torch.nn.Linear(last * 7 * 7, hidden)
  model.classifier[3] = torch.nn.Linear(hidden, hidden)
  model.classifier[6] = torch.nn.Linear(hidden, num_classes)
  return model
