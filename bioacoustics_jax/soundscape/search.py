"""Search by example: the store's windows nearest to a query clip, exact on device or approximate.

    hits, method = search.search(store, "clip.wav@12.5-15.5", k=50)  # [{rank, recording, ...}]

The query is cut into the store's windows (same window, hop, rate, channel) and embedded by the
store's model (rebuilt from the manifest; a model whose identity no longer matches, e.g. other
code or weights, is refused); its vector is the mean of its windows' unit vectors. Similarity is
cosine. Both methods read the store's memory-mapped cache of unit rows (vectors.py, built once
per store content), not the shards:
- `exact`: blocks of `block_rows` rows, per block one jitted matmul and `lax.top_k` on the
  device (padded to one shape, so it compiles once); the blocks' winners are merged on the host.
- `approximate` (ann.py): a FAISS inverted-file index saved beside the store; the candidates it
  finds are scored exactly.
`method="auto"` takes exact up to APPROXIMATE_ABOVE windows and approximate beyond.
"""

from __future__ import annotations

import functools
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.soundscape import ann
from bioacoustics_jax.soundscape import embedder as embedder_lib
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import vectors as vectors_lib
from bioacoustics_jax.soundscape import windows as windows_lib

# Exact search up to this many stored windows (about 58 days of 5 s windows), approximate beyond:
# measured in experiments/perf/results/search_cpu.md (exact latency grows with the rows;
# the index answers in milliseconds after a one-off build).
APPROXIMATE_ABOVE = 1_000_000
METHODS = ("auto", "exact", "approximate")

_QUERY = re.compile(r"^(?P<path>.+?)(@(?P<start>[0-9.]+)-(?P<end>[0-9.]+))?$")


def parse_query(query: str) -> tuple[str, tuple[float, float] | None]:
  """"clip.wav@1.5-4" -> ("clip.wav", (1.5, 4.0)); "clip.wav" -> ("clip.wav", None)."""
  m = _QUERY.match(query)
  path = m.group("path")
  span = (float(m.group("start")), float(m.group("end"))) if m.group("start") else None
  if span is not None and not span[0] < span[1]:
    raise ValueError(f"Query {query!r}: the span must be START-END seconds with START < END.")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"Query {query!r}: no file {path} (give clip.wav or "
                            "clip.wav@START-END in seconds).")
  return path, span


def store_embedder(store: store_lib.Store, weights_dir: str = ""):
  """(embedder, window spec) that made `store`; refused when they no longer give its numbers."""
  settings = store.settings
  backbone = settings["backbone"]
  embedder = embedder_lib.get(backbone["model"], overrides=backbone["overrides"],
                              weights_dir=weights_dir, seed=settings.get("random_init_seed", 42),
                              dtype=settings["dtype"], sample_rate=settings["input_rate"])
  spec = windows_lib.WindowSpec(settings["window_seconds"], settings["hop_seconds"],
                                embedder.rate)
  now = embedder.settings(spec, settings["channel"])
  if store_lib.settings_key(now) != store.manifest["settings_key"]:
    changed = store_lib._differences(settings, now)  # pylint: disable=protected-access
    raise store_lib.SettingsMismatch(
        f"The model that made {store.path} no longer gives its numbers ({'; '.join(changed[:3])})"
        ": check out the commit in its manifest or give its --weights_dir, or embed the archive "
        "again into a new store.")
  return embedder, spec


def embed_query(store: store_lib.Store, query: str, weights_dir: str = "") -> np.ndarray:
  """The query's unit vector [D] (mean of its windows' unit vectors)."""
  path, span = parse_query(query)
  embedder, spec = store_embedder(store, weights_dir)
  recording = windows_lib.describe(os.path.abspath(path), os.path.basename(path))
  audio = np.concatenate([a for _, _, a in windows_lib.stream_windows(
      recording, spec, channel=store.settings["channel"], span=span)])
  vectors = _unit(embedder.embed(audio))
  return _unit(vectors.mean(0, keepdims=True))[0]


def _unit(x: np.ndarray) -> np.ndarray:
  return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@functools.partial(jax.jit, static_argnames=("k",))
def _block_top(queries: jax.Array, block: jax.Array, valid: jax.Array, k: int):
  """Scores of unit `queries` [Q, D] against unit rows `block` [R, D] (rows >= valid masked) ->
  the block's best k (scores, row indices)."""
  scores = jnp.matmul(queries, block.astype(jnp.float32).T, precision=jax.lax.Precision.HIGHEST)
  scores = jnp.where(jnp.arange(block.shape[0])[None, :] < valid, scores, -jnp.inf)
  return jax.lax.top_k(scores, k)


def exact(vectors: vectors_lib.Vectors, queries: np.ndarray, k: int = 50,
          block_rows: int = 65536) -> list[list[dict]]:
  """The k nearest windows (cosine) of each unit query [Q, D], best first, by a full scan."""
  queries = jnp.asarray(np.atleast_2d(queries), jnp.float32)
  table = vectors.embedding
  block_rows = int(min(block_rows, len(table)))  # a small store is not padded to a large block
  top = int(min(k, block_rows))
  scores, rows = [], []
  for lo in range(0, len(table), block_rows):
    block = table[lo:lo + block_rows]
    n = len(block)
    if n < block_rows:  # one shape for every block: the program compiles once
      block = np.concatenate([block, np.zeros((block_rows - n, block.shape[1]), block.dtype)])
    s, i = jax.device_get(_block_top(queries, jnp.asarray(block), n, top))
    scores.append(s)
    rows.append(i + lo)
  scores, rows = np.concatenate(scores, axis=1), np.concatenate(rows, axis=1)
  out = []
  for q in range(queries.shape[0]):
    real = np.isfinite(scores[q])
    s, r = scores[q][real], rows[q][real]
    order = np.lexsort((r, -s))[:k]  # ties: the earlier row first
    out.append([vectors.hit(int(r[i]), s[i], rank + 1) for rank, i in enumerate(order)])
  return out


def choose(rows: int, method: str = "auto") -> str:
  """"exact" or "approximate": the one asked for, or by the store's size for "auto"."""
  if method not in METHODS:
    raise ValueError(f"Search method {method!r}: use one of {METHODS}.")
  if method != "auto":
    return method
  return "approximate" if rows > APPROXIMATE_ABOVE else "exact"


def nearest(store: store_lib.Store, queries: np.ndarray, k: int = 50, *, method: str = "auto",
            block_rows: int = 65536, nlist: int = 0, nprobe: int = 0,
            cache_dtype: str = "float32") -> tuple[list[list[dict]], str]:
  """(hits of each unit query [Q, D], the method used) over the store's cached rows."""
  vectors = vectors_lib.load(store, cache_dtype)
  method = choose(len(vectors), method)
  if method == "exact":
    return exact(vectors, queries, k, block_rows), method
  index = ann.load(store, vectors, nlist)
  return ann.approximate(vectors, index, queries, k, nprobe), method


def search(store: store_lib.Store, query: str, k: int = 50, *, weights_dir: str = "",
           **how) -> tuple[list[dict], str]:
  """(the k windows of `store` nearest to `query` ("clip.wav" or "clip.wav@START-END"), the
  method used); `how`: method, block_rows, nlist, nprobe, cache_dtype (see `nearest`)."""
  hits, method = nearest(store, embed_query(store, query, weights_dir), k, **how)
  return hits[0], method
