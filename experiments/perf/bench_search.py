r"""Exact search latency over a large store of random vectors (soundscape/search.py `exact`).

  nice .venv/bin/python -m experiments.perf.bench_search --rows=1000000 --dim=512 \
      --out=experiments/perf/results/search_cpu.md

Writes a store of `--rows` random unit vectors (shards of `--shard_rows`, through Store.commit),
then times `exact(store, queries, k=50)` for 1 and 16 queries: the first call (compile of the
block program) and the median of `--repeats` later calls. A search reads every shard from disk
(the page cache, once warm) and runs one matmul + top_k per block of `--block_rows` on the JAX
device(s): latency grows linearly with the rows. Random vectors: latency does not depend on
the values.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import app
from absl import flags

from experiments.perf import output

_ROWS = flags.DEFINE_integer("rows", 1_000_000, "Stored windows.")
_DIM = flags.DEFINE_integer("dim", 512, "Embedding dimension.")
_SHARD = flags.DEFINE_integer("shard_rows", 65536, "Rows per shard.")
_BLOCK = flags.DEFINE_integer("block_rows", 65536, "Rows per device block.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed searches (median).")
_OUT = flags.DEFINE_string("out", "", "Write the markdown table here too.")


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import search  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  lines = []
  with tempfile.TemporaryDirectory() as tmp:
    store = store_lib.Store.open(tmp, {"random": _DIM.value}, create=True, writer=True)
    start = time.perf_counter()
    for i, lo in enumerate(range(0, _ROWS.value, _SHARD.value)):
      n = min(_SHARD.value, _ROWS.value - lo)
      x = rng.standard_normal((n, _DIM.value), dtype=np.float32)
      name = f"r{i:06d}"
      store.commit([name] * n, np.arange(n, dtype=np.float64), np.arange(n) + 1.0, x,
                   {name: {"seconds": float(n), "windows": n}})
    store.write_manifest()
    write_s = time.perf_counter() - start
    print(f"store written in {write_s:.1f} s", flush=True)
    rows = []
    for q in (1, 16):
      queries = rng.standard_normal((q, _DIM.value)).astype(np.float32)
      queries /= np.linalg.norm(queries, axis=1, keepdims=True)
      times = []
      for _ in range(_REPEATS.value + 1):
        t = time.perf_counter()
        hits = search.exact(store, queries, k=50, block_rows=_BLOCK.value)
        times.append(time.perf_counter() - t)
      assert len(hits) == q and len(hits[0]) == 50
      rows.append((q, times))
      print(q, [round(t, 2) for t in times], flush=True)
  lines = [
      "# Exact search latency over random vectors (soundscape/search.py)",
      "",
      f"Command: `nice .venv/bin/python -m experiments.perf.bench_search --rows={_ROWS.value} "
      f"--dim={_DIM.value} --repeats={_REPEATS.value}"
      f"{' --out=' + _OUT.value if _OUT.value else ''}`  ",
      f"Machine: {os.cpu_count()} CPU cores SHARED with other jobs (load avg "
      f"{os.getloadavg()[0]:.1f} at the end): indicative only. JAX {jax.__version__}, "
      f"{jax.device_count()} {jax.default_backend()} devices; {_ROWS.value:,} rows x "
      f"{_DIM.value} float32 in shards of {_SHARD.value:,}, blocks of {_BLOCK.value:,}, k=50; "
      f"store written in {write_s:.1f} s.",
      "",
      "| queries | first search s (compile) | median of later searches s |",
      "|---:|---:|---:|",
  ] + [f"| {q} | {t[0]:.2f} | {statistics.median(t[1:]):.2f} |" for q, t in rows]
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  app.run(main)
