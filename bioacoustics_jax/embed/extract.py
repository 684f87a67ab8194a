"""Jitted embedding extraction over padded, masked batches, data-parallel over every device.

The input pipeline pads the last batch (mask=False rows), so the jitted function sees one shape and
compiles once. Each process's batch becomes its part of one global batch
(`jax.make_array_from_process_local_data`) sharded over the 1-D "data" mesh of all devices of all
hosts; the frontend (input recipe) runs inside the same jitted function, on device. Batches are
placed two ahead of the running one (parallel/prefetch.py), and every transfer is explicit (the
extraction runs under `jax.transfer_guard("disallow")`).

Multi-host: the pipeline gives example j of the split to process j % P (tf.data shard) at that
process's position j // P; after the last batch the processes exchange their rows once and put
them back in that order, padding dropped, so every process holds the same EmbeddingSet as a
single-process run (same ids in the same order).
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

from bioacoustics_jax import dtypes
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.data import windows
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.parallel import data_parallel
from bioacoustics_jax.parallel import distributed
from bioacoustics_jax.parallel import prefetch as prefetch_lib

EmbedFn = Callable[[Any, np.ndarray], jax.Array]


def make_embed_fn(module: nn.Module, prepare: Callable, sample_rate: int,
                  embedding_key: str = "embedding") -> tuple[EmbedFn, jax.sharding.Sharding]:
  """Returns (jitted `fn(variables, audio [B,T]) -> [B, D]`, the sharding its batches need).

  `audio` and the output are global arrays sharded over every device ("data" axis); `extract`
  places the batches and reads back this process's rows. Each device runs the recipe and the
  model on its own rows (`data_parallel.over_rows`), a recipe's batch statistics reduced over
  all devices (`recipes.on_devices`): left to jit's partitioner, every device computed the
  whole batch's STFT (ResNet-18 on 2 CPU devices: 12 % of the forward pass).
  """
  batch_sharding = jax.sharding.NamedSharding(data_parallel.data_mesh(),
                                              jax.sharding.PartitionSpec("data"))
  prepare_rows = recipes.on_devices(prepare, "data")

  def embed(variables, audio):
    inputs = prepare_rows(audio, sample_rate)
    _, intermediates = module.apply(variables, inputs, train=False)
    if embedding_key not in intermediates:
      raise KeyError(f"Model has no intermediate {embedding_key!r}; it exposes "
                     f"{sorted(intermediates)}.")
    return intermediates[embedding_key].astype(jnp.float32)

  return data_parallel.over_rows(embed), batch_sharding


def place_variables(variables: Any) -> Any:
  """Variables replicated on every device of every host once, before the batches run: without
  this a host (numpy) tree is copied to the devices on every call (about 240 MB per batch for
  ResNet-152)."""
  return data_parallel.replicate(variables)


def resolve_dtype(dtype: str) -> Any:
  """`embed.dtype`: "auto" is bfloat16 compute on GPU/TPU and float32 on CPU (where bf16 is not
  faster and paper-exact numbers are the point); "float32" / "bfloat16" force one."""
  return jnp.dtype(dtypes.embed_dtype(dtype, jax.default_backend()))


def batch_size_for_devices(batch_size: int) -> int:
  """Rounds up so every local device gets the same number of rows."""
  n = jax.local_device_count()
  return -(-batch_size // n) * n


def extract(embed_fn: EmbedFn, variables: Any, batches: Iterable[dict[str, np.ndarray]], *,
            task: str, class_names: list[str], meta: dict | None = None,
            num_batches: int | None = None, desc: str = "embed",
            prefetch: int = prefetch_lib.DEFAULT_SIZE, on_device: bool = True) -> EmbeddingSet:
  """Runs `embed_fn` over this process's `batches` and keeps the rows whose mask is True.

  `on_device=False`: `embed_fn` is a host function (the PyTorch baseline, process 0 only): it
  gets each batch's numpy audio and returns numpy rows; nothing is placed on JAX devices.

  Every process must call it with the same number of batches (the pipeline guarantees it) and
  gets the whole split back (see module doc). Labels become clustering labels: class index for
  classification; for detection background windows are 0 and labelled windows
  argmax(multi-hot) + 1 (the paper's convention).

  Speed, the same definition for every framework (meta): every batch runs once; the first
  call (waited for) beyond the mean seconds of the later batches is `extract_compile_s` (jit
  compile, or eager warm-up), and `extract_examples_per_s` counts the later batches' real rows
  over their seconds (the input pipeline included, compile excluded). A one-batch split runs
  its batch a second time for that mean (before, every split did: at 96 clips a fourth of
  the forward work).
  """
  start = time.perf_counter()
  if on_device:
    sharding = jax.sharding.NamedSharding(data_parallel.data_mesh(),
                                         jax.sharding.PartitionSpec("data"))
    put = lambda b: data_parallel.put_global(sharding, b["audio"])  # noqa: E731
  else:
    put = lambda b: np.asarray(b["audio"])  # noqa: E731
  rows = local_rows if on_device else np.asarray
  chunks, masks, labels, ids = [], [], [], []
  first, steady_start, audio = 0.0, start, None
  for i, (batch, audio) in enumerate(tqdm(prefetch_lib.prefetch(batches, put, prefetch),
                                          total=num_batches, desc=desc, leave=False,
                                          mininterval=2.0)):
    if i == 0:  # compile (on every process together) and run the first batch, waited for
      call = time.perf_counter()
      if on_device:
        distributed.warm_up(embed_fn, variables, audio, name=desc)
      out = jax.block_until_ready(embed_fn(variables, audio))
      first = time.perf_counter() - call
      steady_start = time.perf_counter()  # the steady clock starts at the second batch
    else:
      out = embed_fn(variables, audio)
    chunks.append(rows(out))
    masks.append(np.asarray(batch["mask"], dtype=bool))
    labels.append(np.asarray(batch["label"]))
    ids.extend(_decode(i) for i in batch["id"])
  if not chunks:
    raise ValueError(f"No examples to embed for {meta or desc}; the split is empty.")
  steady_rows = int(sum(m.sum() for m in masks[1:]))
  if len(chunks) == 1:  # no later batch: time the only one again
    steady_start = time.perf_counter()
    rows(embed_fn(variables, audio))
    steady_rows = int(masks[0].sum())
  steady = max(time.perf_counter() - steady_start, 1e-9)
  compile_seconds = max(first - steady / max(len(chunks) - 1, 1), 0.0)
  embeddings, raw_labels, ids = _gather_in_split_order(
      np.concatenate(chunks), np.concatenate(labels), np.concatenate(masks), ids)
  if not len(ids):
    raise ValueError(f"No examples to embed for {meta or desc}; the split is empty.")
  finite = np.all(np.isfinite(embeddings), axis=1)
  if not finite.all():
    bad = [i for i, ok in zip(ids, finite) if not ok]
    raise FloatingPointError(
        f"Non-finite embeddings for {len(bad)} example(s), e.g. {bad[:3]}. Check these audio "
        "files (silence, clipping) and the model weights.")
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
  meta["extract_examples_per_s"] = round(steady_rows / steady, 3)
  logging.info("%s: %d embeddings in %.1f s", desc, len(raw_labels), meta["extract_seconds"])
  return EmbeddingSet(embeddings, cluster_labels, ids, label_names, meta, targets=targets)


def local_rows(out: jax.Array) -> np.ndarray:
  """This process's rows of a global [B, D] array, in order (an explicit device-to-host copy)."""
  shards = sorted(out.addressable_shards, key=lambda s: s.index[0].start or 0)
  starts = sorted({s.index[0].start or 0 for s in shards})
  unique = [next(s for s in shards if (s.index[0].start or 0) == st) for st in starts]
  return np.concatenate(jax.device_get([s.data for s in unique]))


def _gather_in_split_order(embeddings: np.ndarray, labels: np.ndarray, mask: np.ndarray,
                           ids: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
  """All processes' real rows in the split's order (example j is row j // P of process j % P)."""
  count = jax.process_count()
  if count == 1:
    return embeddings[mask], labels[mask], [i for i, m in zip(ids, mask) if m]
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  distributed.barrier("gather embeddings")  # all arrive before gloo's 30 s join window opens
  encoded = np.array([i.encode() for i in ids], dtype=object)
  width = max(int(w) for w in distributed.all_gather_text(
      "id width", str(max((len(i) for i in encoded), default=1))))
  id_bytes = np.zeros((len(ids), max(width, 1)), np.uint8)
  for row, i in enumerate(encoded):
    id_bytes[row, :len(i)] = np.frombuffer(i, np.uint8)
  position = np.full(len(mask), -1, np.int64)
  position[mask] = np.arange(int(mask.sum()))
  gathered = multihost_utils.process_allgather(
      dict(e=embeddings, l=labels, m=mask, i=id_bytes, p=position))
  keep = np.asarray(gathered["m"]).reshape(-1)
  process = np.repeat(np.arange(count), len(mask))[keep]
  order = np.argsort(np.asarray(gathered["p"]).reshape(-1)[keep] * count + process, kind="stable")
  flat = lambda x: np.asarray(x).reshape((-1,) + np.asarray(x).shape[2:])[keep][order]  # noqa: E731
  out_ids = [bytes(r).rstrip(b"\0").decode() for r in flat(gathered["i"])]
  return flat(gathered["e"]), flat(gathered["l"]), out_ids


def _decode(x) -> str:
  return x.decode() if isinstance(x, bytes) else str(x)
