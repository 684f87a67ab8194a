"""Input recipes: how raw audio becomes each model's input, registered by name.

A zoo preset's `recipe` names one of these. `prepare(audio [B, T] float32, sample_rate)` runs
inside the jitted embedding/training function (the sample rate is a Python int, static under
jit), so the whole frontend runs on the accelerator. `sample_rate` on the recipe is the rate the
input pipeline must deliver (None: the dataset's own rate, as BEANS does for its CNNs).

- registry.py: `InputRecipe`, `register_recipe`, `get_recipe`, `names` and the input checks.
- paper.py: the paper's recipes (paper_mel3, vggish_logmel, waveform16k / waveform, ast_fbank,
  mfcc_logmel).
- extended.py: the recipes of the backbones beyond the paper (paper_mel3_224, waveform16k_norm,
  panns_logmel, whisper_logmel).
- clap.py: CLAP's clap_logmel (ClapFeatureExtractor at 48 kHz).
- birdset.py: BirdSet's birdset_mel (its ConvNeXt's dB mel at 32 kHz).
- perch.py: the Perch models' chirp front ends at 32 kHz (perch_logmel, perch_pcen).
- channels.py: which recipes repeat one channel (computed), and such a recipe's channel once.

Each module's docstring states its recipes against the original's code. Importing this package
registers all of them.
"""

from bioacoustics_jax.audio.recipes.registry import (InputRecipe, Prepare, as_batch, batch_max,
                                                     get_recipe, names, on_devices,
                                                     register_recipe, require_rate)
from bioacoustics_jax.audio.recipes.paper import (
    AST_BINS, AST_MAX_LENGTH, AST_MEAN, AST_STD, BEANS_FFT_SECONDS, BEANS_HOP_SECONDS,
    BEANS_N_MELS, MFCC_HOP, MFCC_N_FFT, MFCC_N_MELS, VGGISH_BANDS, VGGISH_PATCH_FRAMES,
    VGGISH_RATE, ast_features, batch_max_mel, beans_mel, vggish_log_mel, waveform16k)
from bioacoustics_jax.audio.recipes.extended import (
    PANNS_AMIN, PANNS_FMAX, PANNS_FMIN, PANNS_HOP, PANNS_N_FFT, PANNS_N_MELS, PANNS_RATE,
    VIT_IMAGE_SIZE, WAV2VEC2_NORM_EPS, WHISPER_BINS, WHISPER_FRAMES, WHISPER_HOP, WHISPER_N_FFT,
    WHISPER_RATE, WHISPER_SAMPLES, panns_dft_kernels, panns_log_mel, panns_mel_filterbank,
    resize_mel, whisper_filterbank, whisper_frames)
from bioacoustics_jax.audio.recipes.clap import (CLAP_FRAMES, CLAP_HOP, CLAP_N_FFT, CLAP_RATE,
                                                 CLAP_SAMPLES, clap_filterbank, clap_log_mel)
from bioacoustics_jax.audio.recipes.birdset import (BIRDSET_HOP, BIRDSET_MEAN, BIRDSET_N_FFT,
                                                    BIRDSET_N_MELS, BIRDSET_RATE, BIRDSET_STD,
                                                    BIRDSET_TOP_DB, birdset_mel)
from bioacoustics_jax.audio.recipes.perch import (PERCH_RATE, PERCH_WINDOW, chirp_mel,
                                                  perch_logmel, perch_pcen, tf_mel_matrix)
from bioacoustics_jax.audio.recipes.channels import folded, repeated_channels
