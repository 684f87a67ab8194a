"""torchvision ResNets, optionally with every stage narrowed (for fast parity tests).

torchvision hard-codes 64 stem channels, so a narrow variant is made by rebuilding the stem, the
four stages (with torchvision's own `_make_layer`, i.e. its BasicBlock/Bottleneck code) and the fc
of a stock model: same key layout, same block code, fewer channels.
"""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before torchvision)


def torchvision_resnet(arch: str, width: int = 64, num_classes: int = 1000):
  """`torchvision.models.<arch>(num_classes=...)`, random init, stem/stage width `width`."""
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top

  model = getattr(torchvision.models, arch)(num_classes=num_classes)
  if width == 64:
    return model
  block = type(model.layer1[0])
  depths = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
  model.inplanes = width
  model.conv1 = torch.nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
  model.bn1 = torch.nn.BatchNorm2d(width)
  for i, depth in enumerate(depths):
    stride = 1 if i == 0 else 2
    setattr(model, f"layer{i + 1}", model._make_layer(block, width * 2**i, depth, stride))  # pylint: disable=protected-access
  model.fc = torch.nn.Linear(width * 8 * block.expansion, num_classes)
  return model
