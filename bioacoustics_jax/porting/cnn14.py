"""PANNs checkpoint (Cnn14_mAP=0.431.pth, state dict under 'model') -> our Flax Cnn14.

Network keys port by name (`conv_block2.conv1.weight` -> params/conv_block2/conv1/kernel,
`bn0.running_mean` -> batch_stats/bn0/mean, `fc1.weight` transposed). The checkpoint also holds
the torchlibrosa front end as tensors: `spectrogram_extractor.stft.conv_real.weight` /
`conv_imag.weight` (windowed DFT kernels, [513, 1, 1024]) and `logmel_extractor.melW` (the mel
filterbank, [513, 64]). Our front end is the `panns_logmel` recipe, so these are not ported;
they are checked against the recipe's own constants (passed in by the zoo, porting/ does not
import audio/) and then ignored: a checkpoint built for another rate, FFT size or mel band
would otherwise port silently and see the wrong input.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bioacoustics_jax.porting import naming
from bioacoustics_jax.porting import torch_to_flax

FRONTEND_KEYS = ("spectrogram_extractor.stft.conv_real.weight",
                 "spectrogram_extractor.stft.conv_imag.weight", "logmel_extractor.melW")


def port_cnn14(state_dict: Mapping[str, np.ndarray], target: Any, *,
               frontend: Mapping[str, np.ndarray], atol: float = 1e-6) -> Any:
  """Fills `target` ({"params", "batch_stats"} of a models.cnn14.Cnn14) from PANNs keys.

  Args:
    state_dict: the checkpoint's (unwrapped) state dict.
    target: the Flax variables tree to fill.
    frontend: FRONTEND_KEYS -> the arrays our recipe computes with (same shapes as torch's).
    atol: allowed difference of the front-end tensors (float32 rounding of float64 numbers).
  """
  for key in FRONTEND_KEYS:
    if key not in state_dict:
      raise torch_to_flax.PortingError(
          f"{key} missing: not a PANNs Cnn14 state dict with its torchlibrosa front end.")
    got, want = np.asarray(state_dict[key]), np.asarray(frontend[key])
    if got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=atol):
      detail = (f"shape {got.shape} vs {want.shape}" if got.shape != want.shape else
                f"max abs diff {float(np.max(np.abs(got - want))):.3g}")
      raise torch_to_flax.PortingError(
          f"{key}: the checkpoint's front end differs from recipe 'panns_logmel' (32 kHz, "
          f"1024/320, 64 mel bands 50-14000 Hz; {detail}): it was trained on another input.")
  return torch_to_flax.port_by_rules(state_dict, target, naming.dotted_rule(),
                                     ignore_source=FRONTEND_KEYS)
