"""Search at scale: the approximate index finds the planted calls and most of the exact top k;
the memory-mapped cache and the index are built again when the store grows."""

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from bioacoustics_jax.soundscape import ann
from bioacoustics_jax.soundscape import planted
from bioacoustics_jax.soundscape import search
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import vectors


def _random_store(path, shards, rows, dim, seed=0):
  """A store of `shards` x `rows` random vectors (not unit: the cache makes them so)."""
  store = store_lib.Store.open(str(path), {"random": dim}, create=True, writer=True)
  rng = np.random.default_rng(seed)
  for _ in range(shards):
    _add_shard(store, rng.standard_normal((rows, dim)).astype(np.float32))
  return store


def _add_shard(store, x):
  name = f"r{len(store.manifest['shards']):04d}"
  n = len(x)
  store.commit([name] * n, np.arange(n, dtype=np.float64), np.arange(n) + 1.0, x,
               {name: {"seconds": float(n), "windows": n}})
  store.write_manifest()
  return name


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_approximate_search_returns_the_planted_calls_of_the_query_kind_first(archived, tmp_path):
  _, calls, store = archived
  for kind in planted.KINDS:
    query = planted.query_clip(str(tmp_path / f"{kind}.wav"), kind)
    want = {(c["recording"], float(np.floor(c["start"]))) for c in calls if c["kind"] == kind}
    # 60 windows in 4 cells, 2 scanned per query: half the store is never looked at
    hits, method = search.search(store, query, k=len(want), method="approximate", nlist=4,
                                 nprobe=2)
    assert method == "approximate"
    assert {(h["recording"], h["start"]) for h in hits} == want, kind
    assert {h["label"] for h in hits} == {kind}


def _recall(found, truth):
  def rows(hits):
    return {(h["recording"], h["start"]) for h in hits}
  return np.mean([len(rows(a) & rows(e)) / len(e) for a, e in zip(found, truth)])


def test_approximate_recall_against_exact_on_random_vectors(tmp_path):
  """Clustered random vectors (as embeddings of calls are): the default index finds >= 95 % of
  the exact top 20; isotropic random vectors (the worst case: no cells to find) need more cells
  scanned, and scanning all of them finds the exact top 20."""
  rng = np.random.default_rng(1)
  centres = rng.standard_normal((100, 32)).astype(np.float32)
  clustered = centres[rng.integers(0, 100, 20000)] + 0.5 * rng.standard_normal((20000, 32))
  for name, x in (("clustered", clustered), ("isotropic", rng.standard_normal((20000, 32)))):
    store = _random_store(tmp_path / name, shards=0, rows=0, dim=32)
    for part in np.split(x.astype(np.float32), 4):
      _add_shard(store, part)
    queries = _unit(x[rng.integers(0, 20000, 20)] + 0.3 * rng.standard_normal((20, 32)))
    cache = vectors.load(store)
    index = ann.load(store, cache)
    assert index.nlist == ann.default_nlist(20000) == 141
    truth = search.exact(cache, queries, 20)
    recall = {nprobe: _recall(ann.approximate(cache, index, queries, 20, nprobe), truth)
              for nprobe in (0, 40, 141)}
    print(name, recall)
    if name == "clustered":
      assert recall[0] >= 0.95, recall
    else:
      assert recall[0] < recall[40] < recall[141] == 1.0, recall
    found = ann.approximate(cache, index, queries, 20)
    for a in found:  # exact scores of what was found, best first
      assert [h["score"] for h in a] == sorted([h["score"] for h in a], reverse=True)
    exact_scores = {(h["recording"], h["start"]): h["score"] for h in truth[0]}
    for h in found[0]:  # a row found by both has the exact score
      if (h["recording"], h["start"]) in exact_scores:
        assert h["score"] == pytest.approx(exact_scores[(h["recording"], h["start"])], abs=1e-5)


def test_the_cache_and_the_index_are_built_again_when_the_store_grows(tmp_path):
  store = _random_store(tmp_path, shards=2, rows=300, dim=16)
  first = vectors.load(store)
  assert first.embedding.shape == (600, 16)
  np.testing.assert_allclose(np.linalg.norm(first.embedding, axis=1), 1, rtol=1e-6)
  assert vectors.load(store).path == first.path  # unchanged store: the same cache, not rebuilt
  before = os.stat(os.path.join(first.path, "embedding.npy")).st_mtime_ns
  assert os.stat(os.path.join(vectors.load(store).path, "embedding.npy")).st_mtime_ns == before
  old_index = ann.index_path(store, first, 8)
  ann.load(store, first, nlist=8)
  assert os.path.isfile(old_index)

  new = np.random.default_rng(5).standard_normal((50, 16)).astype(np.float32)
  name = _add_shard(store, new)
  grown = vectors.load(store)
  assert grown.path != first.path and not os.path.exists(first.path)  # stale cache removed
  assert grown.embedding.shape == (650, 16)
  hits, method = search.nearest(store, _unit(new[7]), k=1, method="exact")
  assert method == "exact" and (hits[0][0]["recording"], hits[0][0]["start"]) == (name, 7.0)
  hits, method = search.nearest(store, _unit(new[7]), k=1, method="approximate", nlist=8,
                                nprobe=8)
  assert method == "approximate" and (hits[0][0]["recording"], hits[0][0]["start"]) == (name, 7.0)
  assert not os.path.exists(old_index) and os.path.isfile(ann.index_path(store, grown, 8))


def test_auto_picks_exact_up_to_the_stated_size_and_bad_settings_are_refused(tmp_path):
  assert search.choose(search.APPROXIMATE_ABOVE) == "exact"
  assert search.choose(search.APPROXIMATE_ABOVE + 1) == "approximate"
  assert search.choose(10, "approximate") == "approximate"
  with pytest.raises(ValueError, match="use one of"):
    search.choose(10, "fast")
  store = _random_store(tmp_path, shards=1, rows=10, dim=4)
  with pytest.raises(ValueError, match="--nlist"):
    ann.load(store, vectors.load(store), nlist=11)
  with pytest.raises(ValueError, match="float16"):
    vectors.load(store, "int8")


def test_a_float16_cache_finds_what_the_float32_cache_finds(tmp_path):
  store = _random_store(tmp_path, shards=2, rows=500, dim=24)
  queries = _unit(np.random.default_rng(3).standard_normal((4, 24)))
  full, method = search.nearest(store, queries, k=5, method="exact")
  half, _ = search.nearest(store, queries, k=5, method="exact", cache_dtype="float16")
  assert vectors.load(store, "float16").embedding.dtype == np.float16
  assert os.path.isdir(vectors.load(store).path)  # both caches kept: neither is stale
  assert len(os.listdir(os.path.join(store.path, vectors.FOLDER))) == 2
  for f, h in zip(full, half):
    np.testing.assert_allclose([x["score"] for x in h], [x["score"] for x in f], atol=2e-3)
    assert [(x["recording"], x["start"]) for x in h][:3] == \
        [(x["recording"], x["start"]) for x in f][:3]


@pytest.mark.slow
def test_launch_search_says_which_method_it_used(archived, tmp_path):
  """python -m launch.search: auto is exact on a small store, --method=approximate forces the
  index; both print the planted calls first as csv and name the method on stderr."""
  root, calls, store = archived
  query = planted.query_clip(str(tmp_path / "q.wav"), planted.KINDS[0])
  want = {(c["recording"], float(np.floor(c["start"]))) for c in calls
          if c["kind"] == planted.KINDS[0]}
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  for flags, said in (([], "exact search over 60 windows (--method=auto: at most 1,000,000"),
                      (["--method=approximate", "--nlist=4"],
                       "approximate search over 60 windows (--method=approximate)")):
    done = subprocess.run(
        [sys.executable, "-m", "launch.search", f"--store={store.path}", f"--query={query}",
         f"--k={len(want)}", *flags], cwd=repo, env=dict(os.environ, PYTHONPATH=repo),
        capture_output=True, text=True, check=True)
    assert said in done.stderr, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {(r["recording"], float(r["start"])) for r in rows} == want
