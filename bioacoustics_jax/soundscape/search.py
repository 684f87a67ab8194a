"""Search by example: the store's windows nearest to a query clip, exactly, on device.

    hits = search.search(store, "clip.wav@12.5-15.5", k=50)   # [{rank, recording, start, ...}]

The query is cut into the store's windows (same window, hop, rate, channel) and embedded by the
store's model (rebuilt from the manifest; a model whose identity no longer matches, e.g. other
code or weights, is refused); its vector is the mean of its windows' unit vectors. Similarity is
cosine. The store is scanned in blocks of `block_rows` rows: per block one jitted matmul and
`lax.top_k` on the device (padded to one shape, so it compiles once), and the block's winners
are merged with the running best k on the host, so memory is one block, not the store.
"""

from __future__ import annotations

import functools
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from bioacoustics_jax.soundscape import embedder as embedder_lib
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import windows as windows_lib

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
  """Cosine scores of unit `queries` [Q, D] against `block` [R, D] (rows >= valid masked) ->
  the block's best k (scores, row indices)."""
  norms = jnp.linalg.norm(block, axis=1)
  scores = jnp.matmul(queries, (block / jnp.maximum(norms, 1e-12)[:, None]).T,
                      precision=jax.lax.Precision.HIGHEST)
  scores = jnp.where(jnp.arange(block.shape[0])[None, :] < valid, scores, -jnp.inf)
  return jax.lax.top_k(scores, k)


def exact(store: store_lib.Store, queries: np.ndarray, k: int = 50,
          block_rows: int = 65536) -> list[list[dict]]:
  """The k nearest windows (cosine) of each unit query [Q, D], best first, by a full scan."""
  queries = jnp.asarray(np.atleast_2d(queries), jnp.float32)
  best = [(np.zeros(0, np.float32), []) for _ in range(queries.shape[0])]
  largest = max((s["rows"] for s in store.manifest["shards"].values()), default=1)
  block_rows = int(min(block_rows, largest))  # a small store is not padded to a large block
  top = int(min(k, block_rows))
  for block in store.blocks(block_rows):
    n, rows = len(block["start"]), block["embedding"]
    if n < block_rows:  # one shape for every block: the program compiles once
      rows = np.zeros((block_rows, rows.shape[1]), np.float32)
      rows[:n] = block["embedding"]
    scores, index = jax.device_get(_block_top(queries, jnp.asarray(rows), n, top))
    for q, (kept, meta) in enumerate(best):
      real = np.isfinite(scores[q])
      merged = np.concatenate([kept, scores[q][real]])
      meta = meta + [(str(block["recording"][i]), float(block["start"][i]),
                      float(block["end"][i]), str(block["label"][i])) for i in index[q][real]]
      order = np.argsort(-merged, kind="stable")[:k]  # ties: the earlier row first
      best[q] = (merged[order], [meta[i] for i in order])
  return [[{"rank": r + 1, "recording": m[0], "start": m[1], "end": m[2], "score": float(s),
            "label": m[3]}
           for r, (s, m) in enumerate(zip(*b))] for b in best]


def search(store: store_lib.Store, query: str, k: int = 50, *, weights_dir: str = "",
           block_rows: int = 65536) -> list[dict]:
  """The k windows of `store` nearest to `query` ("clip.wav" or "clip.wav@START-END")."""
  return exact(store, embed_query(store, query, weights_dir), k, block_rows)[0]
