"""Cell keys: a changed input never reuses a cached result, an unchanged one always does.

One test per key input (seed, batch size, model override, weights file, a relabelled clip, a
removed clip, an evaluation setting); then one end-to-end re-run that recomputes nothing and
one that recomputes exactly the cell whose input changed.
"""

import csv
import os
import shutil

import ml_collections
import pytest
import torch

from bioacoustics_jax import experiment
from bioacoustics_jax import source_code
from bioacoustics_jax import zoo
from bioacoustics_jax.cells import cell as cell_lib
from bioacoustics_jax.cells import jax_cell
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.results import store as results_lib
from experiments.configs import quickstart
from tests.smoke import smoke_config

TINY = {"width": 4}


@pytest.fixture(scope="module", name="suite")
def _suite(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("cells_suite"))
  synthetic.write_suite(root, size="tiny", seed=0, names=["synth_birds"])
  return root


def _copy(suite, tmp_path):
  root = str(tmp_path / "data")
  shutil.copytree(suite, root, ignore=shutil.ignore_patterns("_tfds"))
  return root


def _key(root, model="rn18", overrides=TINY, weights_dir=None, regime="frozen", **fields):
  fields.setdefault("embed_batch_size", 8)
  train = fields.pop("train", None)
  if regime == "finetuned" and train is None:
    train = quickstart.get_config("smoke=true").train.to_dict()
  cell = Cell(dataset="synth_birds", model=model, regime=regime,
              backbone=zoo.resolve(model, overrides, weights_dir=weights_dir), cache_dir="/unused",
              data_root=root, train=train, **fields)
  return cell.opened().key


def test_unchanged_inputs_give_the_same_key(suite):
  assert _key(suite) == _key(suite)


def test_seed_changes_a_random_init_key_but_not_a_pretrained_frozen_one(suite, tmp_path):
  assert _key(suite, seed=1) != _key(suite, seed=2)
  spec = zoo.get_preset("rn18p")
  torch.save(spec.torch_reference(**TINY).state_dict(), tmp_path / spec.weights)
  pretrained = dict(model="rn18p", weights_dir=tmp_path)
  assert _key(suite, seed=1, **pretrained) == _key(suite, seed=2, **pretrained)
  assert (_key(suite, seed=1, regime="finetuned", **pretrained)
          != _key(suite, seed=2, regime="finetuned", **pretrained))


def test_embedding_batch_size_changes_the_key(suite):
  # paper_mel3 divides by the batch maximum: the batch size changes the embeddings.
  assert _key(suite, embed_batch_size=8) != _key(suite, embed_batch_size=16)


def test_model_override_changes_the_key(suite):
  assert _key(suite, overrides={"width": 4}) != _key(suite, overrides={"width": 8})


def test_weights_file_content_changes_the_key(suite, tmp_path):
  spec = zoo.get_preset("rn18p")
  torch.manual_seed(0)
  torch.save(spec.torch_reference(**TINY).state_dict(), tmp_path / spec.weights)
  before = _key(suite, model="rn18p", weights_dir=tmp_path)
  torch.manual_seed(1)
  torch.save(spec.torch_reference(**TINY).state_dict(), tmp_path / spec.weights)
  assert _key(suite, model="rn18p", weights_dir=tmp_path) != before


def _rewrite_csv(root, split, edit):
  path = os.path.join(root, "synth_birds", f"annotations.{split}.csv")
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  rows = edit(rows)
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=["path", "label"])
    writer.writeheader()
    writer.writerows(rows)


def test_one_relabelled_clip_changes_the_key(suite, tmp_path):
  root = _copy(suite, tmp_path)
  before = _key(root)
  def relabel(rows):
    rows[0]["label"] = rows[1]["label"] if rows[1]["label"] != rows[0]["label"] else rows[2]["label"]
    return rows
  _rewrite_csv(root, "test", relabel)
  assert _key(root) != before


def test_one_removed_clip_changes_the_key(suite, tmp_path):
  root = _copy(suite, tmp_path)
  before = _key(root)
  _rewrite_csv(root, "test", lambda rows: rows[1:])
  assert _key(root) != before


def test_a_train_split_edit_changes_only_fine_tuned_keys(suite, tmp_path):
  root = _copy(suite, tmp_path)
  frozen, tuned = _key(root), _key(root, regime="finetuned")
  _rewrite_csv(root, "train", lambda rows: rows[1:])
  assert _key(root) == frozen
  assert _key(root, regime="finetuned") != tuned


def test_training_settings_change_only_fine_tuned_keys(suite):
  train = quickstart.get_config("smoke=true").train.to_dict()
  other = dict(train, num_epochs=train["num_epochs"] + 1)
  assert _key(suite, regime="finetuned", train=train) != _key(suite, regime="finetuned",
                                                              train=other)


def test_evaluation_settings_change_the_evaluation_key_only():
  a = ClusteringEvaluator(umap_min_dist=0.0, log=None)
  b = ClusteringEvaluator(umap_min_dist=0.99, log=None)
  assert a.eval_key != b.eval_key
  assert ClusteringEvaluator(umap_min_dist=0.0, log=None).eval_key == a.eval_key


def _config(**changes):
  return smoke_config("smoke=true,datasets=synth_birds", **changes)


def test_rerun_recomputes_nothing_and_a_change_recomputes_its_cell(tmp_path, monkeypatch):
  workdir = str(tmp_path / "w")
  computed = []
  original = jax_cell.embeddings
  def counting(cell, config):
    computed.append((cell.model, cell.regime, cell.key))
    return original(cell, config)
  monkeypatch.setattr(jax_cell, "embeddings", counting)

  experiment.run_experiment(_config(), workdir)
  assert len(computed) == 1
  experiment.run_experiment(_config(), workdir)
  assert len(computed) == 1  # unchanged: loaded from the key's cache
  experiment.run_experiment(_config(**{"embed.batch_size": 8}), workdir)  # default 16
  assert len(computed) == 2 and computed[1][2] != computed[0][2]
  experiment.run_experiment(_config(**{"evaluate.umap_min_dist": 0.1,
                                       "evaluate.pca_dim": 3}), workdir)
  assert len(computed) == 2  # an evaluation setting re-evaluates, never re-embeds

  rows = results_lib.read_results(os.path.join(workdir, "results.csv"))
  # Rows of different settings coexist, each naming its cell key, settings and run.
  assert len({(r["cell_key"], r["eval_key"]) for r in rows}) == 3 == len(rows)
  assert {r["embed_batch_size"] for r in rows} == {16, 8}
  assert {r["pca_dim"] for r in rows} == {2, 3}
  assert len({r["run_id"] for r in rows}) == 3  # the second run rewrote the first's row
  for run in {r["run_id"] for r in rows}:
    assert os.path.exists(os.path.join(workdir, "runs", run, "run.json"))
  report = open(os.path.join(workdir, "report.md")).read()
  assert "PCA dim 3" in report and "embedding batch 16" in report  # the last run's settings


def test_a_cell_opens_its_splits_once_and_its_key_hashes_its_code(suite):
  cell = Cell(dataset="synth_birds", model="rn18", regime="frozen",
              backbone=zoo.resolve("rn18", TINY), cache_dir="/unused", data_root=suite)
  with pytest.raises(ValueError, match="not opened"):
    cell.embeddings_path  # pylint: disable=pointless-statement  (a path lookup opens no data)
  opened = cell.opened()
  assert set(opened.splits) == {"test"} and opened.split is opened.splits["test"]
  assert opened.key_inputs["code"] == source_code.code_hash(
      cell_lib.code_entries("jax", "frozen", "flax", zoo.get_preset("rn18")))
  assert opened.embeddings_path.endswith(f"frozen-{opened.key}.npz")
