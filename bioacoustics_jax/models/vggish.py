"""VGGish (AudioSet) in Flax, numerically identical to the torchvggish port (the paper's `vggish`).

Per 0.96 s patch of 96 frames x 64 mel bands: six 3x3 convs with ReLU and four 2x2 max-pools,
then Linear 12288 -> 4096 -> 4096 -> 128, each with ReLU (torchvggish keeps the final ReLU).
Input [B, n_patches, 96, 64, 1] (recipe "vggish_logmel"); the embedding is the mean over
patches of the 128-d patch embeddings, as in the paper ("128-d per 0.96 s patch, averaged over
time"); the per-patch embeddings are in `intermediates["patch_embeddings"]`.

AudioSet's PCA-whitening + 8-bit quantisation postprocessor is NOT applied: it only exists to
match the released AudioSet feature files, it is a fixed linear map plus clipping (so it adds no
information), and the paper's pipeline (BEANS' VGGish wrapper) turns it off to fine-tune the raw
128-d output. `bioacoustics_jax/porting/references/vggish_torch.py` is the torch reference.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from bioacoustics_jax.models import torch_compatible_layers as tl

PATCH_FRAMES, MEL_BANDS = 96, 64
# Channels per conv, "M" = 2x2 max-pool (torchvggish's Sequential indices count ReLUs too).
_CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


class VGGish(nn.Module):
  """Input [B, P, 96, 64, 1] log-mel patches; returns (embedding [B, 128], intermediates).

  Attributes:
    width: channels of the first conv (64); later convs scale with it (for tiny tests).
    hidden: size of the two hidden Linear layers (4096).
  """

  width: int = 64
  hidden: int = 4096
  embedding_dim: int = 128
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    del train  # no dropout or BatchNorm in VGGish
    if x.ndim != 5 or x.shape[2:] != (PATCH_FRAMES, MEL_BANDS, 1):
      raise ValueError(
          f"VGGish expects [B, n_patches, {PATCH_FRAMES}, {MEL_BANDS}, 1] log-mel patches, "
          f"got shape {tuple(x.shape)}; use input recipe 'vggish_logmel'.")
    batch, patches = x.shape[:2]
    y = x.reshape(batch * patches, PATCH_FRAMES, MEL_BANDS, 1).astype(self.dtype)
    index = 0  # torchvggish's index in `features`
    for item in _CONFIG:
      if item == "M":
        y = tl.max_pool(y, 2, 2)
        index += 1
        continue
      fan_in = y.shape[-1] * 9
      y = tl.torch_conv(item * self.width // 64, 3, use_bias=True, name=f"features_{index}",
                        dtype=self.dtype, kernel_init=tl.torch_default_kernel,
                        bias_init=tl.uniform_bias(fan_in))(y)
      y = nn.relu(y)
      index += 2
    feature_map = y
    # NHWC reshape == torchvggish's (H, W, C) flatten: the Linear weights port unpermuted.
    y = y.reshape(y.shape[0], -1).astype(jnp.float32)
    y = nn.relu(tl.torch_dense(y, self.hidden, "embeddings_0"))
    pre_logits = nn.relu(tl.torch_dense(y, self.hidden, "embeddings_2"))
    patch_emb = nn.relu(tl.torch_dense(pre_logits, self.embedding_dim, "embeddings_4"))
    patch_emb = patch_emb.reshape(batch, patches, self.embedding_dim)
    embedding = jnp.mean(patch_emb, axis=1)
    return embedding, {
        "feature_map": feature_map.reshape(batch, patches, *feature_map.shape[1:]),
        "pre_logits": pre_logits.reshape(batch, patches, self.hidden),
        "patch_embeddings": patch_emb,
        "embedding": embedding,
    }
