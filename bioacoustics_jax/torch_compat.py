"""Make `import torchvision` work when its compiled ops cannot load.

The torchvision wheel on the package registry is a CUDA build; its `_C.so` cannot be loaded against
the CPU-only torch this project pins. torchvision then fails at import time while registering
fake kernels for the `torchvision::nms` / `torchvision::qnms` operators, which also breaks timm,
transformers' vision/audio imports and `import umap` (it imports torchvision when torch is present).

We never use those detection ops, so declaring their schemas is enough for every model constructor
to work. Where `_C.so` loads normally (a matching CPU or CUDA install) this is a no-op.
Import this module before anything that may import torchvision.
"""

import glob
import importlib.util
import os

_LIBRARY = None  # keeps the torch.library.Library alive; the schemas vanish when it is collected


def ensure_torchvision_importable() -> None:
  """Declares torchvision's two op schemas iff its compiled extension fails to load."""
  global _LIBRARY
  if _LIBRARY is not None:
    return
  torch_spec = importlib.util.find_spec("torch")
  vision_spec = importlib.util.find_spec("torchvision")
  if torch_spec is None or vision_spec is None:
    return
  import torch  # pylint: disable=g-import-not-at-top

  extension = glob.glob(os.path.join(os.path.dirname(vision_spec.origin), "_C*.so"))
  if not extension:
    return
  try:
    torch.ops.load_library(extension[0])
    return  # the compiled ops loaded: nothing to patch
  except OSError:
    pass
  _LIBRARY = torch.library.Library("torchvision", "DEF")  # pylint: disable=protected-access
  _LIBRARY.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
  _LIBRARY.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")


ensure_torchvision_importable()
