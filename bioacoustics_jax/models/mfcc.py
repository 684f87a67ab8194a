"""MFCC statistics: BEANS' handcrafted baseline as a parameter-free Flax module (`mfcc`).

Input: log-mel frames [B, frames, n_mels] in dB (recipe "mfcc_logmel": librosa's
`power_to_db(melspectrogram(y, sr))` with librosa's defaults, at the dataset's own rate). The
module takes the orthonormal DCT-II over the mel axis and keeps the first `n_mfcc` coefficients
(= librosa.feature.mfcc(S=log_mel, n_mfcc), dct_type 2, norm "ortho", no lifter), then the
clip's mean and (population) standard deviation of each coefficient over frames:
embedding = [mean_0..mean_{n-1}, std_0..std_{n-1}], 2 n_mfcc values (40 at the default 20).
No z-scoring here: it would need dataset statistics; the linear probe z-scores its inputs with
the train split's (evaluate/linear_probe.py), and the clustering reducers see what the deep
models' embeddings see, the raw vector. No parameters, so every regime but "frozen" is moot.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np


def dct_ii_matrix(n_in: int, n_out: int) -> np.ndarray:
  """[n_in, n_out] orthonormal DCT-II (scipy.fft.dct(norm="ortho")'s first n_out rows, as cols)."""
  m = np.arange(n_in)[:, None]
  k = np.arange(n_out)[None, :]
  basis = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * m + 1) / (2 * n_in))
  basis[:, 0] /= np.sqrt(2.0)
  return basis.astype(np.float32)


class MFCCStats(nn.Module):
  """Input [B, frames, n_mels] dB log-mel; returns (embedding [B, 2 n_mfcc], intermediates).

  Attributes:
    n_mfcc: cepstral coefficients kept (20: librosa's and BEANS' default).
    dtype: accepted for the same fields as the other families; computation is float32.
  """

  n_mfcc: int = 20
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    del train  # nothing to train
    if x.ndim != 3:
      raise ValueError(f"MFCCStats expects log-mel frames [B, frames, n_mels], got shape "
                       f"{tuple(x.shape)}; use input recipe 'mfcc_logmel'.")
    n_mels = x.shape[-1]
    if self.n_mfcc > n_mels:
      raise ValueError(f"n_mfcc={self.n_mfcc} exceeds the {n_mels} mel bands of the input")
    dct = jnp.asarray(dct_ii_matrix(n_mels, self.n_mfcc))
    mfcc = jnp.einsum("btm,mk->btk", x.astype(jnp.float32), dct,
                      precision="highest")  # [B, frames, n_mfcc]
    embedding = jnp.concatenate([jnp.mean(mfcc, axis=1), jnp.std(mfcc, axis=1)], axis=-1)
    return embedding, {"mfcc": mfcc, "pre_logits": embedding, "embedding": embedding}
