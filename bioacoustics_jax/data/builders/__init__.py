"""tfds builders for BEANS-format and folder-of-audio datasets (configured at run time)."""

from bioacoustics_jax.data.builders.audio_folder import AudioFolder
from bioacoustics_jax.data.builders.base import AudioBuilderConfig, make_config
from bioacoustics_jax.data.builders.beans_classification import BeansClassification
from bioacoustics_jax.data.builders.beans_detection import BeansDetection

BUILDERS = {
    "beans_classification": BeansClassification,
    "beans_detection": BeansDetection,
    "audio_folder": AudioFolder,
}
