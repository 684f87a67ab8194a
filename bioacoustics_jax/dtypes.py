"""Compute dtypes: the settings that choose them and the one rule behind "auto".

train.mixed_precision (MIXED_PRECISION) and embed.dtype (EMBED_DTYPES) say "auto" by default,
and "auto" means bfloat16 compute on an accelerator (GPU or TPU) and float32 on the CPU, where
bf16 is not faster and paper-exact numbers are the point. The JAX trainer, the extractor and
the PyTorch baseline all ask `bf16_by_default` (a PyTorch device "cuda" is the backend "gpu"),
and config_checks.py checks the enums from here, so the rule and the lists exist once.
"""

from __future__ import annotations

ACCELERATORS = ("gpu", "tpu")
MIXED_PRECISION = ("auto", "bf16", "off")       # train.mixed_precision
EMBED_DTYPES = ("auto", "float32", "bfloat16")  # embed.dtype


def bf16_by_default(backend: str) -> bool:
  """Whether "auto" computes in bfloat16 on `backend` (jax.default_backend(): cpu/gpu/tpu)."""
  return backend in ACCELERATORS


def train_dtype(mixed_precision: str, backend: str) -> str:
  """train.mixed_precision -> "bfloat16" or "float32": bf16 under "bf16", never under "off",
  on an accelerator under "auto"."""
  if mixed_precision not in MIXED_PRECISION:
    raise ValueError(f"train.mixed_precision={mixed_precision!r}; expected one of "
                     f"{list(MIXED_PRECISION)}.")
  bf16 = mixed_precision == "bf16" or (mixed_precision == "auto" and bf16_by_default(backend))
  return "bfloat16" if bf16 else "float32"


def embed_dtype(dtype: str, backend: str) -> str:
  """embed.dtype -> "bfloat16" or "float32" ("auto": by the rule above)."""
  if dtype not in EMBED_DTYPES:
    raise ValueError(f"embed.dtype={dtype!r}; expected one of {list(EMBED_DTYPES)}.")
  if dtype == "auto":
    return "bfloat16" if bf16_by_default(backend) else "float32"
  return dtype
