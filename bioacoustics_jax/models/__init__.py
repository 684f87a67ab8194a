"""Flax backbones. Importing this package registers every family's presets."""

# One import per family; each module registers its presets in `registry`.
from bioacoustics_jax.models import resnet  # noqa: F401  (CNN family: torchvision ResNets)
from bioacoustics_jax.models import swin  # noqa: F401  (transformer family: torchvision Swin)
from bioacoustics_jax.models import hubert  # noqa: F401  (transformer family: HuBERT / AVES)
from bioacoustics_jax.models import ast  # noqa: F401  (transformer family: Audio Spectrogram Transformer)
from bioacoustics_jax.models import alexnet  # noqa: F401  (CNN family: torchvision AlexNet)
from bioacoustics_jax.models import vgg  # noqa: F401  (CNN family: torchvision VGG-16)
from bioacoustics_jax.models import vggish  # noqa: F401  (CNN family: AudioSet VGGish)
from bioacoustics_jax.models import efficientnet  # noqa: F401  (CNN family: torchvision EfficientNet-B0)
