"""Flax backbones. Importing this package registers every family's presets."""

# One import per family; each module registers its presets in `registry`.
from bioacoustics_jax.models import resnet  # noqa: F401  (CNN family: torchvision ResNets)
from bioacoustics_jax.models import alexnet  # noqa: F401  (CNN family: torchvision AlexNet)
from bioacoustics_jax.models import vgg  # noqa: F401  (CNN family: torchvision VGG-16)
