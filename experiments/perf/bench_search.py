r"""Search latency over a large store of random vectors, exact and approximate, with recall@k.

  nice .venv/bin/python -m experiments.perf.bench_search --rows=1000000 --dim=128 \
      --out=experiments/perf/results/search_1m_cpu.md

Writes a store of `--rows` random vectors (shards of `--shard_rows`, through Store.commit), then
times, through soundscape/search.py `nearest`:
- reading every shard once (what each search did before the cache), and the one-off builds: the
  memory-mapped cache of unit rows (vectors.py, `--cache_dtype`) and the FAISS IVF-SQ8 index
  (ann.py, default nlist = sqrt(rows));
- exact search (matmul + top_k per block of `--block_rows` on the JAX device(s), over the cache)
  and approximate search at each `--nprobe`, for 1 and 16 queries: the first call and the median
  of `--repeats` later calls;
- recall@k of the approximate hits against the exact ones (same 16 queries).
`--data=isotropic`: standard normal vectors, the worst case for an inverted file (no cells to
find: nearest neighbours are scattered over many cells); `--data=clustered`: rows around
`--centres` random centres (noise 0.5 per coordinate), as embeddings of repeated calls are.
Queries are stored rows plus a little noise. `--store=S` times a store this script wrote before
(e.g. kept from a run stopped after its cache was built), `--noapproximate` exact search only.
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
_DIM = flags.DEFINE_integer("dim", 128, "Embedding dimension.")
_DATA = flags.DEFINE_enum("data", "isotropic", ["isotropic", "clustered"], "Random vectors.")
_CENTRES = flags.DEFINE_integer("centres", 1000, "--data=clustered: how many centres.")
_SHARD = flags.DEFINE_integer("shard_rows", 65536, "Rows per shard.")
_BLOCK = flags.DEFINE_integer("block_rows", 65536, "Rows per device block (exact).")
_DTYPE = flags.DEFINE_enum("cache_dtype", "float32", ["float32", "float16"], "Cache dtype.")
_NPROBE = flags.DEFINE_list("nprobe", ["0"], "Cells scanned per query (0 = ann default).")
_K = flags.DEFINE_integer("k", 50, "Hits per query.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed searches after the first (median).")
_OUT = flags.DEFINE_string("out", "", "Write the markdown table here too.")
_STORE = flags.DEFINE_string("store", "", "Time an existing store of random vectors (made by "
                             "this script) instead of writing one; its shards are not re-read.")
_APPROX = flags.DEFINE_bool("approximate", True, "Also build the index and time it.")


def _rows(rng, n, centres):
  import numpy as np  # pylint: disable=g-import-not-at-top
  x = rng.standard_normal((n, _DIM.value), dtype=np.float32)
  if centres is not None:
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * x
  return x


def _write_store(store_lib, path, rng, centres, builds):
  """A store of random vectors; times writing it and reading every shard back once."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  store = store_lib.Store.open(path, {"random": _DIM.value}, create=True, writer=True)
  t = time.perf_counter()
  for i, lo in enumerate(range(0, _ROWS.value, _SHARD.value)):
    n = min(_SHARD.value, _ROWS.value - lo)
    name = f"r{i:06d}"
    store.commit([name] * n, np.arange(n, dtype=np.float64), np.arange(n) + 1.0,
                 _rows(rng, n, centres), {name: {"seconds": float(n), "windows": n}})
  store.write_manifest()
  builds["store (npz shards)"] = time.perf_counter() - t
  t = time.perf_counter()
  for _ in store.blocks():  # what every search did before the cache (read all the shards)
    pass
  builds["read every shard once (each search did, before the cache)"] = time.perf_counter() - t
  return store


def main(argv):
  del argv
  import faiss  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import ann  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import search  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import vectors  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  centres = (rng.standard_normal((_CENTRES.value, _DIM.value), dtype=np.float32)
             if _DATA.value == "clustered" else None)
  k = _K.value
  with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
    builds = {}
    if _STORE.value:
      store = store_lib.Store.open(_STORE.value)
    else:
      store = _write_store(store_lib, tmp, rng, centres, builds)
    t = time.perf_counter()
    cache = vectors.load(store, _DTYPE.value)
    built = "opened (built before)" if _STORE.value else "built"
    builds[f"cache ({_DTYPE.value} .npy), {built}"] = time.perf_counter() - t
    nlist = ann.default_nlist(len(cache))
    if _APPROX.value:
      t = time.perf_counter()
      ann.load(store, cache, nlist)
      builds[f"index (IVF{nlist},SQ8)"] = time.perf_counter() - t
      t = time.perf_counter()
      faiss.read_index(ann.index_path(store, cache, nlist))  # what a new process does
      builds["index read from disk"] = time.perf_counter() - t
    print(builds, flush=True)
    picked = rng.integers(0, len(cache), 16)
    queries = np.asarray(cache.embedding[picked], np.float32)
    queries += 0.1 * rng.standard_normal(queries.shape, dtype=np.float32) / np.sqrt(_DIM.value)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def timed(**how):
      out = []
      for q in (1, 16):
        times, cpu = [], []
        for _ in range(_REPEATS.value + 1):
          t, c = time.perf_counter(), time.process_time()
          hits, _ = search.nearest(store, queries[:q], k, block_rows=_BLOCK.value,
                                   cache_dtype=_DTYPE.value, **how)
          times.append(time.perf_counter() - t)
          cpu.append(time.process_time() - c)
        out.append((times, cpu))
        print(how, q, [round(x, 3) for x in times], [round(x, 3) for x in cpu], flush=True)
      return out, hits

    results = []
    exact_times, truth = timed(method="exact")
    results.append(("exact", exact_times, ""))
    for nprobe in (int(p) or ann.default_nprobe(nlist) for p in _NPROBE.value * _APPROX.value):
      times, found = timed(method="approximate", nlist=nlist, nprobe=nprobe)
      recall = np.mean([len({(h["recording"], h["start"]) for h in a} &
                            {(h["recording"], h["start"]) for h in e}) / k
                        for a, e in zip(found, truth)])
      results.append((f"approximate, nprobe {nprobe} of {nlist}", times, f"{recall:.3f}"))
      print(nprobe, "recall", recall, flush=True)
    index = ann.index_path(store, cache, nlist)
    index_mb = os.path.getsize(index) / 2**20 if os.path.isfile(index) else 0
    cache_mb = cache.embedding.nbytes / 2**20
  command = ("nice .venv/bin/python -m experiments.perf.bench_search "
             f"--rows={_ROWS.value} --dim={_DIM.value} --data={_DATA.value} "
             f"--cache_dtype={_DTYPE.value} --nprobe={','.join(_NPROBE.value)} "
             f"--repeats={_REPEATS.value}{' --store=' + _STORE.value if _STORE.value else ''}"
             f"{'' if _APPROX.value else ' --noapproximate'}"
             f"{' --out=' + _OUT.value if _OUT.value else ''}")
  lines = [
      f"# Search latency, {_ROWS.value:,} x {_DIM.value} {_DATA.value} random vectors "
      "(soundscape/search.py)",
      "",
      f"Command: `{command}`  ",
      f"Machine: {os.cpu_count()} CPU cores SHARED with other jobs (load avg "
      f"{os.getloadavg()[0]:.1f} at the end): indicative only. JAX {jax.__version__}, "
      f"{jax.device_count()} {jax.default_backend()} devices; shards of {_SHARD.value:,} rows, "
      f"exact blocks of {_BLOCK.value:,}; k={k}; cache {cache_mb:.0f} MiB, index "
      f"{index_mb:.0f} MiB. Recall@{k}: the approximate hits' share of the exact top {k}, "
      "mean over the 16 queries.",
      "",
      "| one-off build | s |",
      "|---|---:|",
  ] + [f"| {name} | {s:.1f} |" for name, s in builds.items()] + [
      "",
      "Wall s: first call (compiles) and median of the later calls; CPU s: median process CPU "
      "time of the later calls (all threads; less dependent on the other jobs than wall time).",
      "",
      f"| search | 1 query: first s | 1 query: median s | 1 query: CPU s | 16 queries: first s "
      f"| 16 queries: median s | 16 queries: CPU s | recall@{k} |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
  ] + [f"| {name} | {t1[0]:.3f} | {statistics.median(t1[1:]):.3f} | "
       f"{statistics.median(c1[1:]):.3f} | {t16[0]:.3f} | {statistics.median(t16[1:]):.3f} | "
       f"{statistics.median(c16[1:]):.3f} | {recall} |"
       for name, ((t1, c1), (t16, c16)), recall in results]
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  app.run(main)
