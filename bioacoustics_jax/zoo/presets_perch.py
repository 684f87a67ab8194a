"""The Perch presets: Google's bird / animal-sound models, chirp's EfficientNets in Flax.

Each model ships as a TF SavedModel exported from JAX (Kaggle / TF Hub); its variables are read
without loading the graph (porting/savedmodel.py) and mapped onto models/efficientnet.py's
TFEfficientNet by porting/efficientnet_tf.py `port_chirp`. The weights "file" is the unpacked
SavedModel folder (saved_model.pb + variables/) under the name below in the weights folder.
The backbone settings follow chirp's EfficientNet as the model was trained (stem 'VALID', Flax
BatchNorm epsilon 1e-5; MBConv activation ReLU in the 2024+ "default" op set, swish before):
tests/models/test_efficientnet_tf.py names each difference from Keras's EfficientNet, against
which the network is parity-tested.

- perch2: Perch 2.0 (chirp/models/perch_2.py): EfficientNet-B3 on the log-mel recipe,
  1536-d, ReLU blocks (the op set of the reference code it was published with).
- perch1: Perch v1, the bird-vocalization-classifier (Ghani et al. 2023): EfficientNet-B1 on
  the PCEN recipe, 1280-d, swish blocks (trained with the 2023 code).
- surfperch: SurfPerch (Williams et al. 2024, coral reefs): Perch v1's architecture and front
  end, other weights.
The random-init twins (`perch2_random`, `perch1_random`) build the same networks untrained.
"""

from __future__ import annotations

from bioacoustics_jax.zoo.preset import Preset

_KAGGLE = "https://www.kaggle.com/models/google/"
_MODULE = "bioacoustics_jax.models.efficientnet:TFEfficientNet"
_PORTER = "bioacoustics_jax.porting.efficientnet_tf:port_chirp"
_CHIRP = {"in_channels": 1, "stem_padding": "valid", "epsilon": 1e-5}
B3 = {"width_mult": 1.2, "depth_mult": 1.4, **_CHIRP, "block_act": "relu"}
B1 = {"width_mult": 1.0, "depth_mult": 1.1, **_CHIRP, "block_act": "silu"}


def _perch(name: str, architecture: str, kwargs, recipe: str, dim: int, weights: str | None,
           url: str | None, description: str) -> Preset:
  trained = weights is not None
  return Preset(
      name=name, architecture=architecture, module=_MODULE, module_kwargs=kwargs, recipe=recipe,
      embedding_dim=dim, porter=_PORTER, weights=weights, weights_url=url, batch_norm=True,
      parity="keras", licence="Apache-2.0" if trained else "", bioacoustic=trained,
      embedding=f"{dim}-d: the EfficientNet head's feature map mean-pooled over time and "
                "frequency per 5 s window, averaged over the clip's windows",
      description=description)


PERCH_PRESETS: tuple[Preset, ...] = (
    _perch("perch2", "chirp_efficientnet_b3", B3, "perch_logmel", 1536, "perch_v2",
           _KAGGLE + "bird-vocalization-classifier/tensorFlow2/perch_v2",
           "Perch 2.0 (Google; ~15k species of birds, amphibians, mammals, insects): "
           "EfficientNet-B3 on a 32 kHz log-mel, SavedModel variables ported"),
    _perch("perch2_random", "chirp_efficientnet_b3", B3, "perch_logmel", 1536, None, None,
           "Perch 2.0's EfficientNet-B3 and front end, random init"),
    _perch("perch1", "chirp_efficientnet_b1", B1, "perch_pcen", 1280,
           "bird-vocalization-classifier",
           _KAGGLE + "bird-vocalization-classifier/tensorFlow2/bird-vocalization-classifier",
           "Perch v1 (Google bird-vocalization-classifier, Xeno-Canto birds): EfficientNet-B1 "
           "on a 32 kHz PCEN mel, SavedModel variables ported"),
    _perch("perch1_random", "chirp_efficientnet_b1", B1, "perch_pcen", 1280, None, None,
           "Perch v1's EfficientNet-B1 and front end, random init"),
    _perch("surfperch", "chirp_efficientnet_b1", B1, "perch_pcen", 1280, "surfperch",
           _KAGGLE + "surfperch",
           "SurfPerch (Google; coral-reef sounds and birds): Perch v1's EfficientNet-B1 and "
           "front end, SavedModel variables ported"),
)
