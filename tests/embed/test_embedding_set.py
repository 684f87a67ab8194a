import numpy as np
import pytest

from bioacoustics_jax.embed.embedding_set import EmbeddingSet


def _set(n=5, d=3):
  rng = np.random.default_rng(0)
  return EmbeddingSet(rng.normal(size=(n, d)), np.arange(n) % 2, [f"a{i}.wav" for i in range(n)],
                      ["bg", "call"], {"dataset": "x", "skipped": [{"path": "b.wav"}]})


def test_save_load_round_trip(tmp_path):
  es = _set()
  path = es.save(str(tmp_path / "sub" / "e.npz"))
  back = EmbeddingSet.load(path)
  np.testing.assert_array_equal(back.embeddings, es.embeddings.astype(np.float32))
  np.testing.assert_array_equal(back.labels, es.labels)
  assert back.ids == es.ids and back.label_names == es.label_names and back.meta == es.meta
  assert back.dim == 3 and back.n_classes == 2 and len(back) == 5
  assert not list(tmp_path.glob("sub/*.tmp*")), "the atomic write left a temp file"


def test_sizes_must_agree():
  with pytest.raises(ValueError, match="sizes disagree"):
    EmbeddingSet(np.zeros((3, 2)), np.zeros(2), ["a", "b", "c"], [])
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    EmbeddingSet(np.zeros(3), np.zeros(3), ["a", "b", "c"], [])


def test_missing_file_says_what_to_do(tmp_path):
  with pytest.raises(FileNotFoundError, match="run extraction first"):
    EmbeddingSet.load(str(tmp_path / "nope.npz"))


def test_detection_targets_round_trip_and_are_optional(tmp_path):
  es = _set()
  es.targets = None
  assert EmbeddingSet.load(es.save(str(tmp_path / "a.npz"))).targets is None
  targets = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]])
  es = EmbeddingSet(es.embeddings, es.labels, es.ids, es.label_names, targets=targets)
  np.testing.assert_array_equal(EmbeddingSet.load(es.save(str(tmp_path / "b.npz"))).targets,
                                targets)
  with pytest.raises(ValueError, match="multi-hot"):
    EmbeddingSet(es.embeddings, es.labels, es.ids, es.label_names, targets=targets[:3])
