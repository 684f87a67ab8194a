"""Paired comparisons (evaluate/paired.py): equal sets show no detectable difference, a
well-separated set beats a random one, and sets of different clips are refused."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator

EVALUATOR = dict(reducers=("pca",), clusterers=("kmeans",), seeds=2, interval_draws=10,
                 log=None)


def _sets():
  x, y = make_blobs(60, n_features=8, centers=3, cluster_std=1.0, random_state=0)
  ids = [f"clip{i}" for i in range(60)]
  separated = EmbeddingSet(x, y, ids, ["a", "b", "c"])
  noise = np.random.default_rng(0).standard_normal(x.shape)
  return separated, EmbeddingSet(noise, y, ids, ["a", "b", "c"])


def test_equal_sets_show_no_difference_and_separated_beats_random():
  separated, random = _sets()
  evaluator = ClusteringEvaluator(**EVALUATOR)
  shuffled = np.random.default_rng(1).permutation(60)
  same = EmbeddingSet(separated.embeddings[shuffled], separated.labels[shuffled],
                      [separated.ids[i] for i in shuffled], separated.label_names)
  for c in paired.compare(separated, same, evaluator):
    assert (c.difference, c.lo, c.hi, c.verdict) == (0.0, 0.0, 0.0, paired.NO_DIFFERENCE)
  found = paired.compare(separated, random, evaluator)
  assert [c.score for c in found] == ["nmi", "ari"]
  for c in found:
    assert c.verdict == paired.A_BETTER and c.lo > 0 and c.lo <= c.difference <= c.hi, c
  assert paired.compare(random, separated, evaluator)[0].verdict == paired.B_BETTER


def test_refuses_different_clips_and_unpaired_rows():
  separated, random = _sets()
  fewer = EmbeddingSet(random.embeddings[1:], random.labels[1:], random.ids[1:],
                       random.label_names)
  with pytest.raises(ValueError, match="clip 'clip0' is only in A"):
    paired.compare(separated, fewer, ClusteringEvaluator(**EVALUATOR))
  row = dict(reducer="pca", clusterer="kmeans", nmi=0.5, n=60, clips_key="x", eval_key="e",
             nmi_halves="0.5 0.4")
  other = dict(row, clips_key="y")
  assert paired.compare_rows(row, other).verdict == paired.NOT_PAIRED


def test_winner_only_when_detected_against_every_other_row():
  def row(model, nmi, halves):
    return dict(model=model, reducer="pca", clusterer="kmeans", nmi=nmi, n=60, clips_key="c",
                eval_key="e", nmi_halves=" ".join(map(str, halves)))
  good = row("good", 0.9, [0.9, 0.88, 0.92, 0.91])
  close = row("close", 0.89, [0.92, 0.86, 0.9, 0.9])
  poor = row("poor", 0.3, [0.3, 0.32, 0.28, 0.31])
  assert paired.winner([poor, good]) is good
  assert paired.winner([poor, good, close]) is None  # good vs close: not detectable
  assert paired.winner([good, dict(poor, clips_key="other")]) is None  # other clips: no claim


def test_across_settings_pairs_rows_that_share_their_halves():
  # Two settings of one evaluation (UMAP vs PCA, or two sweep trials' UMAP settings) share the
  # halves when clips, eval seed and seed count agree; by default rows of other settings are not
  # paired, and across settings rows of another eval seed are not either.
  def row(reducer, eval_key, nmi, halves, seed=42):
    return dict(reducer=reducer, clusterer="kmeans", nmi=nmi, n=60, clips_key="c",
                eval_key=eval_key, eval_seed=seed, n_seeds=5,
                nmi_halves=" ".join(map(str, halves)))
  umap = row("umap", "e1", 0.8, [0.8, 0.79, 0.82, 0.81])
  pca = row("pca", "e2", 0.5, [0.5, 0.52, 0.49, 0.5])
  assert paired.compare_rows(umap, pca).verdict == paired.NOT_PAIRED
  assert paired.compare_rows(umap, pca, across_settings=True).verdict == paired.A_BETTER
  assert paired.winner([pca, umap], across_settings=True) is umap
  other_seed = dict(pca, eval_seed=0)
  found = paired.compare_rows(umap, other_seed, across_settings=True)
  assert found.verdict == paired.NOT_PAIRED and "evaluation seed" in found.reason
