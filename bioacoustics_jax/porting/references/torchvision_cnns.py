"""torchvision AlexNet / VGG-16 / EfficientNet-B0..B3, optionally narrowed (for fast parity tests).

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


def efficientnet(width_mult: float = 1.0, depth_mult: float = 1.0, dropout: float = 0.2,
                 num_classes: int = 1000):
  """torchvision EfficientNet (V1) at random init, built the way `efficientnet_b0..b4()` build
  it: `_efficientnet_conf` with the variant's width/depth multipliers (B0 1.0/1.0, B1 1.0/1.1,
  B3 1.2/1.4) and torch's default BatchNorm (torchvision passes eps=1e-3 only from B5 on);
  smaller multipliers give the tiny test variants with the same code and key layout."""
  from torchvision.models import efficientnet as tv  # pylint: disable=g-import-not-at-top
  stages, last_channel = tv._efficientnet_conf(  # pylint: disable=protected-access
      "efficientnet_b0", width_mult=width_mult, depth_mult=depth_mult)
  return tv.EfficientNet(stages, dropout=dropout, last_channel=last_channel,
                         num_classes=num_classes)


def efficientnet_b0(width_mult: float = 1.0, depth_mult: float = 1.0, num_classes: int = 1000):
  """torchvision EfficientNet-B0 (random init), optionally scaled down the torchvision way."""
  from torchvision.models import efficientnet as tv  # pylint: disable=g-import-not-at-top
  if width_mult == 1.0 and depth_mult == 1.0:
    return tv.efficientnet_b0(num_classes=num_classes)
  return efficientnet(width_mult, depth_mult, 0.2, num_classes)


def convnext(dims=(96, 192, 384, 768), depths=(3, 3, 9, 3), num_classes: int = 1000,
             stochastic_depth_prob: float = 0.0):
  """torchvision ConvNeXt with these stage widths/depths, random init (`convnext_tiny()` builds
  exactly this with the tiny table; its stochastic depth acts in train mode only)."""
  from torchvision.models import convnext as tv  # pylint: disable=g-import-not-at-top
  if len(dims) != len(depths):
    raise ValueError(f"dims {dims} and depths {depths} differ in length")
  setting = [tv.CNBlockConfig(d, dims[i + 1] if i + 1 < len(dims) else None, n)
             for i, (d, n) in enumerate(zip(dims, depths))]
  return tv.ConvNeXt(setting, stochastic_depth_prob=stochastic_depth_prob,
                     num_classes=num_classes)
