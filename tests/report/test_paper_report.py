"""paper_grid.write_report on a results file named like the paper's, made fast: the rows come
from the real evaluator (PCA + k-means, standing in for UMAP: numba's compilation would cost
~20 s) on constructed embedding sets saved where a run saves them, so ours - paper, n/a, the
unmatched reference rows and all three claims are computed in the default tests. The whole
smoke grid through run_experiment is tests/report/test_paper_grid.py (slow)."""

import hashlib
import math
import os

import numpy as np

from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.report.paper_grid import claims
from bioacoustics_jax.report.paper_grid import grid_rows
from bioacoustics_jax.report.paper_grid import document as paper_grid
from bioacoustics_jax.report import reference as reference_lib
from bioacoustics_jax.results import store as results_lib
from tests.report import paper_reference

# model -> how far its classes sit apart (so the claims have something to decide).
SEPARATION = {"alex": 4.0, "rn18": 3.0, "vggish": 0.5, "aves": 0.7, "aves_all": 0.6}
NAMES = ["background", "a", "b"]


def _cell(root, model, dataset, regime, background, evaluator, seed):
  rng = np.random.default_rng(seed)
  n = 60 if background == "all" else 36
  labels = np.arange(n) % 3 if background == "all" else 1 + np.arange(n) % 2
  x = rng.normal(size=(n, 16)) + SEPARATION[model] * np.eye(16)[labels]
  targets = np.eye(3)[labels][:, 1:]
  key = hashlib.sha256(f"{model}{dataset}{regime}{background}".encode()).hexdigest()[:16]
  es = EmbeddingSet(x, labels, [f"w{i}" for i in range(n)], NAMES, targets=targets)
  es.save(os.path.join(root, "embeddings", dataset, model, f"{regime}-{key}.npz"))
  rows = []
  for row in evaluator.evaluate(es).rows:
    rows.append(dict(row, reducer="umap", dataset=dataset, model=model, regime=regime,
                     split="test", background=background, skipped_files=0, embed_batch_size=32,
                     cell_key=key, run_id="test"))
  return rows


def _results(root):
  evaluator = ClusteringEvaluator(reducers=("pca",), clusterers=("kmeans",), log=None)
  rows, seed = [], 0
  for model in SEPARATION:
    for regime in ("frozen", "finetuned"):
      for background in ("all", "fewer"):
        seed += 1
        rows += _cell(root, model, "dcase", regime, background, evaluator, seed)
  return results_lib.append_rows(os.path.join(root, "results.csv"), rows)


def test_ours_minus_paper_na_unmatched_and_claims(tmp_path):
  results_csv = _results(str(tmp_path))
  reference = paper_reference.edited_reference(tmp_path, unknown_dataset_column=True)
  md = paper_grid.write_report([results_csv], str(tmp_path / "out"), reference)
  text = open(md).read()
  ref = reference_lib.read_reference(reference)
  table = grid_rows.scores(grid_rows.read_rows([results_csv]))
  main = grid_rows.Setting("umap", (50, 0.5))
  for model in ("alex", "vggish"):
    ours = table[(model, "dcase", "finetuned", "all", main)]["nmi"]
    paper = ref.get(main.paper_key, model, "dcase", "nmi")
    assert math.isfinite(ours.mean) and math.isfinite(paper) and ours.seeds == 5
    # mean ± sd over the evaluator's 5 seeds, then (paper, ours - paper)
    assert (f"{ours.mean:.3f} ± {ours.std:.3f} ({paper:.3f}, {ours.mean - paper:+.3f})"
            in text)
  rn18 = table[("rn18", "dcase", "finetuned", "all", main)]["nmi"]
  # a missing reference number is n/a, never 0
  assert f"{rn18.mean:.3f} ± {rn18.std:.3f} (n/a, n/a)" in text
  assert "Reference model folders that name no model of the zoo: npy_resnet9000" in text
  assert "Reference dataset columns that name no BEANS dataset: hainan_gibons" in text
  assert "Reference datasets with no run here: watkins, bats" in text
  assert "Reference UMAP settings not run here: (50, 0.1), (100, 0.5)" in text
  # Constructed so that claims 1 and 2 hold: alex's classes sit far apart, the audio models'
  # barely (the backgrounds with them); each case is decided by a paired test on the same clips.
  assert "Claim 1: SUPPORTED by a paired test of NMI on the same clips" in text
  assert "Claim 2: SUPPORTED by a paired test of the kNN background AUC" in text
  assert "2 holds of 2 detection dataset x regime pairs" in text
  # Claim 3 compares fewer-background clips with all windows: not the same clips, so a paired
  # test cannot decide it, and the report says why.
  assert "Claim 3: NOT TESTABLE by a paired test" in text and "different clip sets" in text
  assert "not the same clips" in text.split("Claim 3: NOT TESTABLE")[1]
  # Frozen vs fine-tuned: each delta carries its paired interval; fewer background has none.
  frozen_vs_tuned = text.split("## Frozen vs fine-tuned")[1].split("## Fewer background")[0]
  assert frozen_vs_tuned.count(" [") >= 5
  assert " [" not in text.split("## Fewer background")[1].split("## The three claims")[0]
  for section in ("Table I: t-SNE NMI", "Frozen vs fine-tuned", "Fewer background", "Figures"):
    assert f"## {section}" in text
  for png in ("paper_nmi_heatmap.png", "paper_background_separation.png"):
    assert os.path.getsize(tmp_path / "out" / "figures" / png) > 1000


def test_seed_spread_is_measured_when_there_are_several_seeds(tmp_path):
  results_csv = _results(str(tmp_path))
  rows = results_lib.read_results(results_csv)
  # The same cells evaluated again with another seed (a real evaluator run, rows appended).
  evaluator = ClusteringEvaluator(reducers=("pca",), clusterers=("kmeans",), seed=7, log=None)
  more = []
  for r in [r for r in rows if r["model"] == "alex"]:
    es = EmbeddingSet.load(os.path.join(str(tmp_path), "embeddings", r["dataset"], r["model"],
                                        f"{r['regime']}-{r['cell_key']}.npz"))
    more += [dict(row, reducer="umap", **{k: r[k] for k in (
        "dataset", "model", "regime", "split", "background", "skipped_files",
        "embed_batch_size", "cell_key", "run_id")}) for row in evaluator.evaluate(es).rows]
  results_lib.append_rows(results_csv, more)
  text = open(paper_grid.write_report([results_csv], str(tmp_path / "out"), None)).read()
  # Every cell has its 5 evaluator seeds; alex's 4 cells also a second eval seed's row.
  assert "Seed noise, measured: over 20 cells" in text


def test_background_auc_against_constructed_embeddings():
  rng = np.random.default_rng(0)
  background = np.arange(200) < 120
  apart = np.where(background[:, None], 0.0, 5.0) + rng.normal(size=(200, 8))
  mixed = rng.normal(size=(200, 8))
  assert claims.background_auc(apart, background) > 0.99
  assert abs(claims.background_auc(mixed, background) - 0.5) < 0.1
  assert math.isnan(claims.background_auc(mixed, np.zeros(200, bool)))
