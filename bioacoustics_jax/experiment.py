"""run_experiment(config, workdir): datasets x models x regimes -> embeddings -> clusters -> report.

Each model is resolved once (zoo.resolve -> Backbone) and each dataset x model x regime becomes a
Cell (cell.py) run by the JAX path here or by the PyTorch baseline ("torch:<model>" names,
baselines/runner.py). Every cell writes its embedding set under
`<workdir>/embeddings/<dataset>/<model>/<regime>.npz` and its rows into `<workdir>/results.csv`
before the next cell starts, so a killed run resumes where it stopped: finished embedding sets are
loaded, not recomputed, and re-written rows replace the old ones.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax import zoo
from bioacoustics_jax.cell import Cell
from bioacoustics_jax.cell import REGIMES
from bioacoustics_jax.cell import split_model_name
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.report import figures
from bioacoustics_jax.report import html as html_report
from bioacoustics_jax.report import markdown
from bioacoustics_jax.report import results
from bioacoustics_jax.report import tensorboard as report_tensorboard
from bioacoustics_jax.report import views
from bioacoustics_jax.train import finetune as finetune_lib


def run_experiment(config: ml_collections.ConfigDict, workdir: str) -> str:
  """Runs every cell of `config` and returns the path of results.csv."""
  os.makedirs(workdir, exist_ok=True)
  unknown = [r for r in config.regimes if r not in REGIMES]
  if unknown:
    raise ValueError(f"Unknown regime(s) {unknown}; known: {list(REGIMES)}")
  backbones = resolve_models(config)  # unknown names fail now, not mid-run
  data_root, datasets = prepare_data(config, workdir)
  evaluator = ClusteringEvaluator(**config.evaluate.to_dict(), log=logging.info)
  results_csv = os.path.join(workdir, "results.csv")
  cells = [Cell(dataset=d, model=m, regime=r, backbone=backbones[m], workdir=workdir,
                data_root=data_root, split_name=config.data.split,
                skip_bad_audio=bool(config.data.skip_bad_audio),
                drop_background=bool(config.data.drop_background),
                embed_batch_size=int(config.embed.batch_size))
           for d in datasets for m in config.models for r in config.regimes]
  for i, cell in enumerate(cells, 1):
    logging.info("[%d/%d] %s x %s (%s)", i, len(cells), cell.dataset, cell.model, cell.regime)
    start = time.perf_counter()
    es = embedding_set(cell, config)
    evaluation = evaluator.evaluate(es)
    skipped = es.meta.get("skipped", [])
    rows = [dict(row, dataset=cell.dataset, model=cell.model, regime=cell.regime,
                 split=cell.split_name, skipped_files=len(skipped)) for row in evaluation.rows]
    results.append_rows(results_csv, rows)
    views.save_cell(workdir, es, evaluation, evaluator, rows)  # report.html: scatters, intervals
    report_tensorboard.write_cell(workdir, config, rows)  # eval scalars + HParams per cell
    _write_figure(workdir, es, evaluation.projections, cell)
    logging.info("[%d/%d] done in %.1f s: %s", i, len(cells), time.perf_counter() - start,
                 _summary(rows))
  report_md = os.path.join(workdir, "report.md")
  markdown.write_report(results_csv, report_md, paper_csv=markdown.PAPER_SCORES)
  html_report.write_html(workdir, paper_csv=markdown.PAPER_SCORES)
  logging.info("Wrote %s, %s and report.html", results_csv, report_md)
  return results_csv


def resolve_models(config: ml_collections.ConfigDict) -> dict[str, zoo.Backbone]:
  """config.models -> {name as written: Backbone}, resolved once for the whole run.

  Fails before any data is prepared on an unknown name, a model without a PyTorch baseline
  (`torch:` names), or missing weights files (every missing file named in one message).
  """
  overrides = config.model_overrides.to_dict()
  out, missing = {}, []
  for model in config.models:
    framework, name = split_model_name(model)
    out[model] = zoo.resolve(name, overrides, weights_dir=config.weights_dir or None)
    if framework == "torch":
      _torch_runner().check_model(out[model])
    try:
      out[model].check_weights()
    except load_lib.MissingWeightsError as e:
      missing.append(str(e))
  if missing:
    raise load_lib.MissingWeightsError("\n".join(missing))
  return out


def prepare_data(config: ml_collections.ConfigDict, workdir: str) -> tuple[str, list[str]]:
  """Writes the synthetic suite when asked; returns (data root, dataset names)."""
  root = config.data.root or os.path.join(workdir, "data")
  datasets = list(config.data.datasets)
  if config.data.synthetic_size:
    start = time.perf_counter()
    written = synthetic.write_suite(root, size=config.data.synthetic_size,
                                    seed=config.data.synthetic_seed, names=datasets or None)
    logging.info("Synthetic suite (%s) ready under %s in %.1f s: %s", config.data.synthetic_size,
                 root, time.perf_counter() - start, ", ".join(written))
    datasets = datasets or written
  if not datasets:
    raise ValueError("No datasets: set --config.data.datasets (BEANS names under "
                     "--config.data.root) or --config.data.synthetic_size=small.")
  return root, datasets


def embedding_set(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """Loads the cell's embedding set if a previous run finished it, else computes and saves it."""
  if os.path.exists(cell.embeddings_path):
    logging.info("Resuming: loading %s", cell.embeddings_path)
    return EmbeddingSet.load(cell.embeddings_path)
  if cell.framework == "torch":
    es = _torch_runner().torch_embeddings(cell, config)
  else:
    es = _jax_embeddings(cell, config)
  es.save(cell.embeddings_path)
  return es


def _jax_embeddings(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  backbone, rate = cell.backbone, cell.rate
  sample = backbone.recipe.prepare(
      jnp.zeros((1, cell.split.info.num_samples(rate)), jnp.float32), rate)
  variables = backbone.init_variables(jax.random.key(config.seed), sample)
  meta = cell.meta()
  if cell.regime == "finetuned":
    variables, result = finetune_lib.finetune(
        backbone, cell.open("train"), cell.open("valid"), config.train, cell.train_dir,
        variables=variables)
    meta.update(learning_rate=result.learning_rate, best_epoch=result.best_epoch,
                best_metric=result.best_metric, train_accuracy=result.train_accuracy)
  return extract_lib.extract(_embed_fn(backbone, rate), variables, cell.batches(),
                             task=cell.split.info.task,
                             class_names=list(cell.split.info.class_names),
                             num_batches=cell.num_batches(), desc=cell.desc, meta=meta)


@functools.lru_cache(maxsize=16)
def _embed_fn(backbone: zoo.Backbone, rate: int):
  """One jitted extractor per (Backbone, rate): frozen and fine-tuned cells share its
  compilation (variables are an argument, not a constant)."""
  return extract_lib.make_embed_fn(backbone.module, backbone.recipe.prepare, rate)[0]


def _torch_runner():
  # Imported on demand so JAX-only runs never load torch.
  from bioacoustics_jax.baselines import runner  # pylint: disable=g-import-not-at-top
  return runner


def _write_figure(workdir: str, es: EmbeddingSet, projections, cell: Cell) -> None:
  projection = next((projections[r] for r in ("umap", "tsne", "pca") if r in projections), None)
  if projection is None:
    return
  figures.scatter(np.asarray(projection), es.labels, es.label_names,
                  title=f"{cell.dataset} / {cell.model} / {cell.regime}",
                  out_png=os.path.join(workdir, "figures",
                                       f"{cell.dataset}__{cell.model_dir}__{cell.regime}.png"))


def _summary(rows: list[dict]) -> str:
  return "; ".join(f"{r['reducer']}+{r['clusterer']} NMI={r['nmi']:.3f}" for r in rows)
