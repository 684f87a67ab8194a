"""run_experiment(config, workdir): datasets x models x regimes -> embeddings -> clusters -> report.

Every cell (dataset, model, regime) writes its embedding set under
`<workdir>/embeddings/<dataset>/<model>/<regime>.npz` and its rows into `<workdir>/results.csv`
before the next cell starts, so a killed run resumes where it stopped: finished embedding sets are
loaded, not recomputed, and re-written rows replace the old ones.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax.audio import recipes
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import summary as data_summary
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.models import registry
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.report import figures
from bioacoustics_jax.report import markdown
from bioacoustics_jax.report import results
from bioacoustics_jax.train import finetune as finetune_lib

REGIMES = ("frozen", "finetuned")
# The paper's UMAP+k-means scores (fine-tuned embeddings); report.md shows them beside runs on
# real BEANS data (dataset and model names must be the paper's).
PAPER_SCORES = os.path.join(os.path.dirname(__file__), "..", "experiments", "reference",
                            "paper_umap_kmeans_scores.csv")


def run_experiment(config: ml_collections.ConfigDict, workdir: str) -> str:
  """Runs every cell of `config` and returns the path of results.csv."""
  os.makedirs(workdir, exist_ok=True)
  _check_regimes(config.regimes)
  for model in config.models:  # an unknown name fails now, listing the known ones, not mid-run
    if _is_torch(model):
      _torch_runner().spec_name(model)
    else:
      registry.get(model)
  data_root, datasets = prepare_data(config, workdir)
  evaluator = ClusteringEvaluator(
      reducers=tuple(config.evaluate.reducers), clusterers=tuple(config.evaluate.clusterers),
      seed=config.evaluate.seed, umap_n_neighbors=config.evaluate.umap_n_neighbors,
      umap_min_dist=config.evaluate.umap_min_dist,
      hdbscan_min_cluster_size=config.evaluate.hdbscan_min_cluster_size, log=logging.info)
  results_csv = os.path.join(workdir, "results.csv")
  cells = [(d, m, r) for d in datasets for m in config.models for r in config.regimes]
  metas = []
  for i, (dataset, model, regime) in enumerate(cells, 1):
    logging.info("[%d/%d] %s x %s (%s)", i, len(cells), dataset, model, regime)
    start = time.perf_counter()
    # "torch:<name>" runs the PyTorch original on the same batches (bioacoustics_jax/baselines).
    cell = _torch_runner().torch_cell if _is_torch(model) else embedding_set
    es = cell(config, workdir, data_root, dataset, model, regime)
    evaluation = evaluator.evaluate(es)
    metas.append(es.meta)
    data_summary.log_warnings(es.meta, logging.warning)
    skipped = es.meta.get("skipped", [])
    rows = [dict(row, dataset=dataset, model=model, regime=regime, split=config.data.split,
                 skipped_files=len(skipped)) for row in evaluation.rows]
    results.append_rows(results_csv, rows)
    _write_figure(workdir, es, evaluation.projections, dataset, model, regime)
    logging.info("[%d/%d] done in %.1f s: %s", i, len(cells), time.perf_counter() - start,
                 _summary(rows))
  markdown.write_report(results_csv, os.path.join(workdir, "report.md"),
                        paper_csv=PAPER_SCORES if os.path.exists(PAPER_SCORES) else None)
  data_summary.append_to_report(os.path.join(workdir, "report.md"), metas)
  logging.info("Wrote %s and %s", results_csv, os.path.join(workdir, "report.md"))
  return results_csv


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


def embedding_set(config, workdir: str, data_root: str, dataset: str, model: str,
                  regime: str) -> EmbeddingSet:
  """Loads the cell's embedding set if a previous run finished it, else computes and saves it."""
  path = os.path.join(workdir, "embeddings", dataset, model, f"{regime}.npz")
  if os.path.exists(path):
    logging.info("Resuming: loading %s", path)
    return EmbeddingSet.load(path)
  data_options = pipeline.config_options(config.data, workdir)
  split = pipeline.open_split(dataset, config.data.split, data_root=data_root, **data_options)
  spec = registry.get(model)
  recipe = recipes.get_recipe(spec.recipe)
  rate = recipe.sample_rate or split.info.sample_rate
  overrides = parse_overrides(config.model_overrides)
  sample_audio = jnp.zeros((1, split.info.num_samples(rate)), jnp.float32)
  variables = load_lib.init_variables(
      spec, recipe.prepare(sample_audio, rate), rng=jax.random.key(config.seed),
      weights_dir=config.weights_dir or None, **overrides)
  if regime == "finetuned":
    variables, _ = finetune_lib.finetune(
        model, pipeline.open_split(dataset, "train", data_root=data_root, **data_options),
        pipeline.open_split(dataset, "valid", data_root=data_root, **data_options),
        config.train, os.path.join(workdir, "train", dataset, model), variables=variables,
        module_overrides=overrides)
  embed_fn = _embed_fn(model, tuple(sorted(overrides.items())), rate)
  batch_size = extract_lib.batch_size_for_devices(config.embed.batch_size)
  batches = split.numpy_batches(batch_size=batch_size, sample_rate=rate,
                                drop_background=config.data.drop_background)
  es = extract_lib.extract(
      embed_fn, variables, batches, task=split.info.task, class_names=list(split.info.class_names),
      num_batches=split.num_batches(batch_size, drop_background=config.data.drop_background),
      desc=f"{dataset}/{model}/{regime}",
      meta=dict(dataset=dataset, model=model, regime=regime, split=config.data.split,
                sample_rate=rate, skipped=split.skipped, data_warnings=split.warnings,
                data_origin=split.origin))
  es.save(path)
  return es


@functools.lru_cache(maxsize=16)
def _embed_fn(model: str, overrides: tuple[tuple[str, Any], ...], rate: int):
  """One jitted extractor per (model, overrides, rate): frozen and fine-tuned cells share its
  compilation (variables are an argument, not a constant)."""
  spec = registry.get(model)
  module = spec.build(**dict(overrides))
  return extract_lib.make_embed_fn(module, recipes.get_recipe(spec.recipe).prepare, rate)[0]


def _is_torch(model: str) -> bool:
  return model.startswith("torch:")


def _torch_runner():
  # Imported on demand so JAX-only runs never load torch.
  from bioacoustics_jax.baselines import runner  # pylint: disable=g-import-not-at-top
  return runner


def parse_overrides(text: str) -> dict[str, Any]:
  """`width=8,depth=2` -> {"width": 8, "depth": 2} (ints and floats parsed, the rest strings)."""
  out: dict[str, Any] = {}
  for item in filter(None, (text or "").split(",")):
    key, _, value = item.partition("=")
    for cast in (int, float):
      try:
        out[key.strip()] = cast(value)
        break
      except ValueError:
        continue
    else:
      out[key.strip()] = value.strip()
  return out


def _check_regimes(regimes) -> None:
  unknown = [r for r in regimes if r not in REGIMES]
  if unknown:
    raise ValueError(f"Unknown regime(s) {unknown}; known: {list(REGIMES)}")


def _write_figure(workdir, es, projections, dataset, model, regime) -> None:
  projection = next((projections[r] for r in ("umap", "tsne", "pca") if r in projections), None)
  if projection is None:
    return
  figures.scatter(np.asarray(projection), es.labels, es.label_names,
                  title=f"{dataset} / {model} / {regime}",
                  out_png=os.path.join(workdir, "figures",
                                       f"{dataset}__{model.replace(':', '-')}__{regime}.png"))


def _summary(rows: list[dict]) -> str:
  return "; ".join(f"{r['reducer']}+{r['clusterer']} NMI={r['nmi']:.3f}" for r in rows)
