"""Search by example: planted calls come first; the block scan equals a brute-force ranking."""

import json
import os

import numpy as np
import pytest

from bioacoustics_jax.soundscape import planted
from bioacoustics_jax.soundscape import search
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import vectors


def test_exact_search_returns_the_planted_calls_of_the_query_kind_first(archived, tmp_path):
  _, calls, store = archived
  for kind in planted.KINDS:
    query = planted.query_clip(str(tmp_path / f"{kind}.wav"), kind)
    want = {(c["recording"], float(np.floor(c["start"]))) for c in calls if c["kind"] == kind}
    assert len(want) >= 3
    hits, method = search.search(store, query, k=len(want) + 5)
    assert method == "exact"  # a small store: auto searches exactly
    assert {(h["recording"], h["start"]) for h in hits[:len(want)]} == want, kind
    assert {h["label"] for h in hits[:len(want)]} == {kind}  # the tables beside the audio
    assert hits[len(want) - 1]["score"] > hits[len(want)]["score"]
    assert [h["rank"] for h in hits] == list(range(1, len(want) + 6))


def test_a_span_of_a_stored_recording_finds_its_own_window_first(archived):
  root, calls, store = archived
  call = calls[4]
  second = float(np.floor(call["start"]))
  hits, _ = search.search(store, f"{root}/{call['recording']}@{second}-{second + 1}", k=3)
  assert (hits[0]["recording"], hits[0]["start"]) == (call["recording"], second)
  assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_the_block_scan_equals_a_brute_force_ranking(archived):
  store = archived[2]
  rows = store.load_arrays()
  unit = rows["embedding"] / np.linalg.norm(rows["embedding"], axis=1, keepdims=True)
  queries = unit[[3, 40]] + 0.01
  queries /= np.linalg.norm(queries, axis=1, keepdims=True)
  got = search.exact(vectors.load(store), queries, k=10, block_rows=7)  # 60 rows: 9 blocks, the last padded
  for q, hits in enumerate(got):
    scores = unit @ queries[q]
    order = np.argsort(-scores, kind="stable")[:10]
    np.testing.assert_allclose([h["score"] for h in hits], scores[order], rtol=1e-5)
    assert {(h["recording"], h["start"]) for h in hits} == \
        {(rows["recording"][i], rows["start"][i]) for i in order}


def test_bad_queries_and_a_changed_model_are_refused_with_the_fix(archived, tmp_path):
  root, _, store = archived
  with pytest.raises(FileNotFoundError, match="clip.wav@START-END"):
    search.parse_query(str(tmp_path / "missing.wav@1-2"))
  with pytest.raises(ValueError, match="START < END"):
    search.parse_query(f"{root}/rec000.wav@3-2")
  assert search.parse_query(f"{root}/rec000.wav@1.5-4") == (f"{root}/rec000.wav", (1.5, 4.0))
  changed = store_lib.Store(store.path, json.loads(json.dumps(store.manifest)))
  changed.manifest["settings_key"] = "0" * 16  # as if its code or weights had changed
  with pytest.raises(store_lib.SettingsMismatch, match="no longer gives its numbers"):
    search.search(changed, os.path.join(root, "rec000.wav"))
