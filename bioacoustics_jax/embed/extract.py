"""Jitted embedding extraction over padded, masked batches, data-parallel over local devices.

The input pipeline pads the last batch (mask=False rows), so the jitted function sees one shape and
compiles once. Batches are sharded over a 1-D "data" mesh of every local device; the frontend
(input recipe) runs inside the same jitted function, on device.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from tqdm import tqdm

from bioacoustics_jax.data import windows
from bioacoustics_jax.embed.embedding_set import EmbeddingSet

EmbedFn = Callable[[Any, np.ndarray], jax.Array]


def make_embed_fn(module: nn.Module, prepare: Callable, sample_rate: int,
                  embedding_key: str = "embedding") -> tuple[EmbedFn, jax.sharding.Sharding]:
  """Returns (jitted `fn(variables, audio [B,T]) -> [B, D]`, the sharding its batches need)."""
  mesh = jax.make_mesh((jax.local_device_count(),), ("data",))
  batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

  def embed(variables, audio):
    inputs = prepare(audio, sample_rate)
    _, intermediates = module.apply(variables, inputs, train=False)
    if embedding_key not in intermediates:
      raise KeyError(f"Model has no intermediate {embedding_key!r}; it exposes "
                     f"{sorted(intermediates)}.")
    return intermediates[embedding_key].astype(jnp.float32)

  fn = jax.jit(embed, in_shardings=(replicated, batch_sharding), out_shardings=replicated)
  return fn, batch_sharding


def place_variables(variables: Any) -> Any:
  """Variables replicated on every local device once, before the batches run: without this a
  host (numpy) tree is copied to the devices on every call (about 240 MB per batch for
  ResNet-152)."""
  mesh = jax.make_mesh((jax.local_device_count(),), ("data",))
  return jax.device_put(variables, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))


def resolve_dtype(dtype: str) -> Any:
  """`embed.dtype`: "auto" is bfloat16 compute on GPU/TPU and float32 on CPU (where bf16 is not
  faster and paper-exact numbers are the point); "float32" / "bfloat16" force one."""
  if dtype == "auto":
    dtype = "bfloat16" if jax.default_backend() in ("gpu", "tpu") else "float32"
  if dtype not in ("float32", "bfloat16"):
    raise ValueError(f"embed.dtype={dtype!r}; expected 'auto', 'float32' or 'bfloat16'.")
  return jnp.dtype(dtype)


def batch_size_for_devices(batch_size: int) -> int:
  """Rounds up so every local device gets the same number of rows."""
  n = jax.local_device_count()
  return -(-batch_size // n) * n


def extract(embed_fn: EmbedFn, variables: Any, batches: Iterable[dict[str, np.ndarray]], *,
            task: str, class_names: list[str], meta: dict | None = None,
            num_batches: int | None = None, desc: str = "embed") -> EmbeddingSet:
  """Runs `embed_fn` over `batches` and keeps the rows whose mask is True.

  Labels become clustering labels: class index for classification; for detection background
  windows are 0 and labelled windows argmax(multi-hot) + 1 (the paper's convention).

  Speed, the same definition for every framework (meta): the first batch runs twice; its first
  call beyond its second is `extract_compile_s` (jit compile, or eager warm-up), and
  `extract_examples_per_s` counts the real rows over the other calls' seconds (the input
  pipeline included, compile excluded).
  """
  start = time.perf_counter()
  chunks, labels, ids = [], [], []
  compile_seconds, steady_start = 0.0, start
  for i, batch in enumerate(tqdm(batches, total=num_batches, desc=desc, leave=False,
                                 mininterval=2.0)):
    mask = np.asarray(batch["mask"], dtype=bool)
    call = time.perf_counter()
    embedding = np.asarray(embed_fn(variables, batch["audio"]))
    if i == 0:
      first = time.perf_counter() - call
      steady_start = time.perf_counter()  # the steady clock starts at the second call
      embedding = np.asarray(embed_fn(variables, batch["audio"]))
      compile_seconds = max(first - (time.perf_counter() - steady_start), 0.0)
    if not np.all(np.isfinite(embedding[mask])):
      bad = [_decode(i) for i, m, e in zip(batch["id"], mask, embedding)
             if m and not np.all(np.isfinite(e))]
      raise FloatingPointError(
          f"Non-finite embeddings for {len(bad)} example(s), e.g. {bad[:3]}. Check these audio "
          "files (silence, clipping) and the model weights.")
    chunks.append(embedding[mask])
    labels.append(np.asarray(batch["label"])[mask])
    ids.extend(_decode(i) for i, m in zip(batch["id"], mask) if m)
  if not chunks:
    raise ValueError(f"No examples to embed for {meta or desc}; the split is empty.")
  raw_labels = np.concatenate(labels)
  targets = None
  if task == "detection":
    cluster_labels = windows.cluster_labels(raw_labels)
    label_names = ["background"] + list(class_names)
    targets = raw_labels  # the multi-hot rows: the linear probe's mAP is over these
  else:
    cluster_labels = raw_labels.astype(np.int64)
    label_names = list(class_names)
  meta = dict(meta or {})
  end = time.perf_counter()
  meta["extract_seconds"] = round(end - start, 3)
  meta["extract_compile_s"] = round(compile_seconds, 4)
  meta["extract_examples_per_s"] = round(len(raw_labels) / max(end - steady_start, 1e-9), 3)
  logging.info("%s: %d embeddings in %.1f s", desc, len(raw_labels), meta["extract_seconds"])
  return EmbeddingSet(np.concatenate(chunks), cluster_labels, ids, label_names, meta,
                      targets=targets)


def _decode(x) -> str:
  return x.decode() if isinstance(x, bytes) else str(x)
