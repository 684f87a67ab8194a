"""run_experiment(config, workdir): datasets x models x regimes -> embeddings -> clusters -> report.

Each model is resolved once (zoo.resolve -> Backbone) and each dataset x model x regime becomes a
Cell (cell.py) run by the JAX path here or by the PyTorch baseline ("torch:<model>" names,
baselines/runner.py). Every cell writes its embedding set under
`<workdir>/embeddings/<dataset>/<model>/<regime>.npz` and its rows into `<workdir>/results.csv`
before the next cell starts, so a killed run resumes where it stopped: finished embedding sets are
loaded, not recomputed, and re-written rows replace the old ones.

Multi-host (every host runs the same command): every process takes part in each JAX cell's
training and extraction (collectives), and gets the whole embedding set; only process 0 writes
data, embeddings, rows, reports, figures and run.json, evaluates and runs torch cells, and all
processes meet at a barrier after each cell (parallel/distributed.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax import axes
from bioacoustics_jax import config_checks
from bioacoustics_jax import paths
from bioacoustics_jax import provenance
from bioacoustics_jax import zoo
from bioacoustics_jax.cell import Cell
from bioacoustics_jax.cell import resolve_init
from bioacoustics_jax.cell import split_model_name
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.data import summary as data_summary
from bioacoustics_jax.data import synthetic
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.parallel import distributed
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.report import figures
from bioacoustics_jax.report import html as html_report
from bioacoustics_jax.report import markdown
from bioacoustics_jax.report import paper_grid
from bioacoustics_jax.report import results
from bioacoustics_jax.report import tensorboard as report_tensorboard
from bioacoustics_jax.report import views
from bioacoustics_jax.train import finetune as finetune_lib
from bioacoustics_jax.zoo import init_cache


def run_experiment(config: ml_collections.ConfigDict, workdir: str,
                   argv: list[str] | None = None, cells_dir: str | None = None) -> str:
  """Runs every cell of `config` and returns the path of results.csv.

  `cells_dir` (default `workdir`) holds the cells' caches (embeddings/, train/): the trials of a
  sweep pass one shared folder, so a cell is computed once for all of them (see embedding_set).

  Before any compute: every config value is checked (config_checks.py), every model resolved
  and its weights found. Then each cell is loaded from its key's cache or computed, evaluated
  and appended to results.csv. run.json records the run throughout; if a cell fails, report.md
  is still written for the cells that finished, lists the failure, and the error is re-raised.
  """
  config_checks.check(config)
  config_checks.check_writable(workdir, config.data.get("cache_dir", ""))  # read-only: now
  backbones = resolve_models(config)  # unknown names and missing weights fail now, not mid-run
  evaluators = axes.make_evaluators(config)
  workdir = paths.absolute(workdir)  # a gs:// URI stays one (never a local `gs:` folder)
  resolve_data_root(config, workdir)  # raw audio must be local or mounted: fail now, not mid-run
  distributed.check_setup(config.to_json(), workdir)  # same config, devices, shared workdir
  paths.makedirs(workdir)
  record = provenance.start_run(workdir, config, argv=argv)
  logging.info("Run %s: %s", record.run_id, record.path)
  results_csv = os.path.join(workdir, "results.csv")
  failures, metas = [], []
  try:
    data_root, datasets = prepare_data(config, workdir)
    train = config.train.to_dict() if "finetuned" in config.regimes else None
    data_options = pipeline.config_options(config.data, workdir)
    backgrounds = {d: axes.background_axis(config, d, data_root, data_options) for d in datasets}
    cells = [Cell(dataset=d, model=m, regime=r, backbone=backbones[m],
                  workdir=cells_dir or workdir,
                  data_root=data_root, split_name=config.data.split, data_options=data_options,
                  drop_background=drop,
                  embed_batch_size=int(config.embed.batch_size), seed=int(config.seed),
                  embed_dtype=extract_lib.resolve_dtype(config.embed.get("dtype", "auto")).name,
                  train=axes.train_for(train, config, drop) if r == "finetuned" else None,
                  init=resolve_init(config.get("random_init", "auto"), m, config.models,
                                    backbones[m]))
             for d in datasets for m in config.models for r in config.regimes
             for drop in backgrounds[d]
             if r == "frozen" or backbones[m].preset.trainable]
    for m in config.models:
      if "finetuned" in config.regimes and not backbones[m].preset.trainable:
        logging.info("%s has nothing to fine-tune: frozen cells only", m)
    for i, cell in enumerate(cells, 1):
      logging.info("[%d/%d] %s x %s (%s)", i, len(cells), cell.dataset, cell.model, cell.regime)
      start = time.perf_counter()
      try:
        if distributed.is_main():
          rows, meta = _run_cell(cell, config, evaluators, workdir, results_csv, record.run_id)
          metas.append(meta)
        else:
          rows = _take_part(cell, config, evaluators[0])
        distributed.barrier(f"cell {i} {cell.key}")
      except Exception as e:
        failures.append(dict(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                             error=f"{type(e).__name__}: {e}".splitlines()[0]))
        record.add_cell(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                        status="failed", error=failures[-1]["error"])
        raise
      seconds = time.perf_counter() - start
      record.add_cell(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                      cell_key=cell.key, status="ok", seconds=round(seconds, 2))
      logging.info("[%d/%d] done in %.1f s: %s", i, len(cells), seconds, _summary(rows))
  except BaseException as e:
    _write_reports(workdir, results_csv, record.run_id, failures, metas)
    record.finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=e)
    raise
  report_md = _write_reports(workdir, results_csv, record.run_id, failures, metas)
  if config.get("paper_report"):  # the paper grid beside the paper's numbers (beans_paper.py)
    logging.info("Wrote %s", paper_grid.write_report([results_csv], workdir))
  record.finish("ok")
  logging.info("Wrote %s, %s and report.html", results_csv, report_md)
  return results_csv


def _run_cell(cell: Cell, config, evaluators: list[ClusteringEvaluator], workdir: str,
              results_csv: str, run_id: str) -> tuple[list[dict], dict]:
  """Embeds (or loads) one cell, evaluates it under every evaluator setting (the embedding
  computed once), records its rows; returns (rows, embedding-set meta)."""
  es = embedding_set(cell, config)
  data_summary.log_warnings(es.meta, logging.warning)
  _run_probes(cell, config, evaluators[0], es, os.path.join(workdir, "probes.csv"), run_id)
  skipped = es.meta.get("skipped", [])
  note = _train_label_note(cell, es)
  all_rows = []
  for i, evaluator in enumerate(evaluators):
    evaluation = evaluator.evaluate(es)
    rows = [dict(row, dataset=cell.dataset, model=cell.model, regime=cell.regime,
                 split=cell.split_name, background="fewer" if cell.drop_background else "all",
                 skipped_files=len(skipped), note="; ".join(filter(None, (row["note"], note))),
                 embed_batch_size=cell.batch_size, cell_key=cell.key, run_id=run_id,
                 **dict(results.speed_columns(es.meta), framework=cell.framework))
            for row in evaluation.rows]
    if i == 0 and not cell.drop_background:  # report.html / TensorBoard: the main setting
      views.save_cell(workdir, es, evaluation, evaluator, rows)  # scatters, intervals
      report_tensorboard.write_cell(workdir, config, rows)  # eval scalars + HParams per cell
    _write_figure(workdir, es, evaluation.projections, cell, evaluator.eval_key)
    all_rows += rows
  results.append_rows(results_csv, all_rows)
  return all_rows, es.meta


def _take_part(cell: Cell, config, evaluator) -> list[dict]:
  """A process other than 0: the collective part of a JAX cell (training, extraction of the
  split and, for probes, of the train split); torch cells run on process 0 alone."""
  if cell.framework == "jax":
    embedding_set(cell, config)
    if evaluator.probe_evaluator is not None:
      _probe_train_set(cell, config, evaluator)
  return []


_NO_PROBES = object()


def _probe_train_set(cell: Cell, config, evaluator):
  """The train split's embedding set for the probes (its own cached cell, same weights), None
  without a train split, _NO_PROBES when the probes cannot run."""
  if not evaluator.needs_train:
    return None
  if cell.framework == "torch" and cell.regime == "finetuned":
    logging.warning("%s: probes skipped (the PyTorch trainer keeps no checkpoint to embed "
                    "the train split with)", cell.desc)
    return _NO_PROBES
  try:
    train_cell = dataclasses.replace(cell, split_name="train")
    train_cell.split  # pylint: disable=pointless-statement  (raises if there is no train split)
  except (KeyError, ValueError, FileNotFoundError) as e:
    logging.info("%s: no train split for the probes (%s)", cell.desc, e)
    return None
  return embedding_set(train_cell, config)


def _run_probes(cell: Cell, config, evaluator, es: EmbeddingSet, probes_csv: str,
                run_id: str) -> None:
  """Linear probe / kNN / few-shot rows of the cell (config.evaluate.probes) into probes.csv;
  the train split is embedded (through its own cached cell, same weights) only when a probe
  needs it."""
  if evaluator.probe_evaluator is None:
    return
  train_es = _probe_train_set(cell, config, evaluator)
  if train_es is _NO_PROBES:
    return
  rows = evaluator.evaluate_probes(train_es, es)
  results.append_probe_rows(probes_csv, [
      dict(r, dataset=cell.dataset, model=cell.model, regime=cell.regime, split=cell.split_name,
           cell_key=cell.key, eval_key=evaluator.eval_key, run_id=run_id) for r in rows])


def _write_reports(workdir: str, results_csv: str, run_id: str, failures: list[dict],
                   metas: list[dict]) -> str:
  """report.md (this run's rows, its failures, each dataset's origin, input-check warnings and
  skipped files) and report.html; process 0 only."""
  report_md = os.path.join(workdir, "report.md")
  if not distributed.is_main() or (not paths.exists(results_csv) and not failures):
    return report_md
  markdown.write_report(results_csv, report_md, paper_csv=markdown.PAPER_SCORES,
                        run_id=run_id, failures=failures,
                        probes_csv=os.path.join(workdir, "probes.csv"),
                        appendix=data_summary.markdown_section(metas))
  if paths.exists(results_csv):
    html_report.write_html(workdir, paper_csv=markdown.PAPER_SCORES)
  return report_md


def _train_label_note(cell: Cell, es: EmbeddingSet) -> str:
  """Names classes of the evaluated split that the train split lacks (classification)."""
  if cell.split.info.task != "classification" or cell.split_name == "train":
    return ""
  try:
    train_labels = cell.open("train").labels
  except (KeyError, ValueError, FileNotFoundError):
    return ""  # no train split
  absent = sorted(set(np.unique(es.labels)) - set(np.unique(train_labels)))
  if not absent:
    return ""
  names = [es.label_names[i] for i in absent]
  return f"classes absent from train: {', '.join(map(str, names))}"


def resolve_models(config: ml_collections.ConfigDict) -> dict[str, zoo.Backbone]:
  """config.models -> {name as written: Backbone}, resolved once for the whole run.

  Fails before any data is prepared on an unknown name, a model without a PyTorch baseline
  (`torch:` names), or missing weights files (every missing file named in one message).
  """
  overrides = config.model_overrides.to_dict()
  out, missing = {}, []
  for model in config.models:
    framework, name = split_model_name(model)
    out[model] = zoo.resolve(name, _applicable_overrides(name, overrides),
                             weights_dir=config.weights_dir or None,
                             rate_rule=zoo.aves_rate_rule(name, config.get("aves_input_rate",
                                                                           16000)))
    if framework == "torch":
      _torch_runner(model).check_model(out[model])
    try:
      out[model].check_weights()
    except load_lib.MissingWeightsError as e:
      missing.append(str(e))
  if missing:
    raise load_lib.MissingWeightsError("\n".join(missing))
  return out


def _applicable_overrides(name: str, overrides: dict) -> dict:
  """`config.model_overrides` applies to every model; a key that a model's module does not have
  (e.g. `width` for the parameter-free `mfcc`) is left out for that model, with a warning."""
  kept = dict(overrides)
  while True:
    try:
      zoo.get_preset(name).build(**kept)
      return kept
    except TypeError as e:
      match = re.search(r"unexpected keyword argument '(\w+)'", str(e))
      if not match or match.group(1) not in kept:
        raise
      logging.warning("model_overrides: %s=%r does not apply to model %s (its module has no "
                      "such field); left out for it.", match.group(1), kept.pop(match.group(1)),
                      name)


def prepare_data(config: ml_collections.ConfigDict, workdir: str) -> tuple[str, list[str]]:
  """Writes the synthetic suite when asked (process 0 first; then the others, which find it
  there when the data root is shared and write their own copy when it is a local folder);
  returns (data root, dataset names)."""
  root = resolve_data_root(config, workdir)
  datasets = list(config.data.datasets)
  if config.data.synthetic_size:
    start = time.perf_counter()
    written = list(datasets or synthetic.ROSTER)
    for writers_turn in (True, False):  # process 0 first: hosts sharing its root only read
      if distributed.is_main() == writers_turn:
        written = synthetic.write_suite(root, size=config.data.synthetic_size,
                                        seed=config.data.synthetic_seed, names=datasets or None)
      distributed.barrier(f"synthetic suite written{'' if writers_turn else ' (all hosts)'}")
    logging.info("Synthetic suite (%s) ready under %s in %.1f s: %s", config.data.synthetic_size,
                 root, time.perf_counter() - start, ", ".join(written))
    datasets = datasets or written
  if not datasets:
    raise ValueError("No datasets: set --config.data.datasets (BEANS names under "
                     "--config.data.root) or --config.data.synthetic_size=small.")
  return root, datasets


def resolve_data_root(config: ml_collections.ConfigDict, workdir: str) -> str:
  """config.data.root (default <workdir>/data), a local or mounted folder."""
  what = "data.root" if config.data.root else "data.root (default <workdir>/data)"
  return paths.require_local(config.data.root or os.path.join(workdir, "data"), what,
                             "the audio is read (and the synthetic suite written) as local files")


def embedding_set(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  """The cell's embedding set: loaded when one with the same key exists (same data, model,
  weights, settings), else computed and saved under the key (by process 0; a JAX cell is
  computed by all processes together, so all take process 0's decision). Processes sharing the
  cache (sweep trials) compute a cell one at a time (a lock per key on process 0): the others
  wait, then load it."""
  with results.locked(cell.embeddings_path) if distributed.is_main() else contextlib.nullcontext():
    cached = paths.exists(cell.embeddings_path)
    if distributed.agree(cached) if cell.framework == "jax" else cached:
      logging.info("Cell key %s unchanged: loading %s", cell.key, cell.embeddings_path)
      return EmbeddingSet.load(cell.embeddings_path)
    logging.info("Cell key %s: computing %s", cell.key, cell.embeddings_path)
    start = time.perf_counter()
    if cell.framework == "torch":
      es = _torch_runner(cell.model).torch_embeddings(cell, config)
    else:
      es = _jax_embeddings(cell, config)
    es.meta["wall_s"] = round(time.perf_counter() - start, 3)  # training + extraction, this cell
    if distributed.is_main():
      es.save(cell.embeddings_path)
      cell.write_key()
    return es


def _jax_embeddings(cell: Cell, config: ml_collections.ConfigDict) -> EmbeddingSet:
  backbone, rate = cell.backbone, cell.rate
  sample = backbone.recipe.prepare(
      jnp.zeros((1, cell.split.info.num_samples(rate)), jnp.float32), rate)
  if cell.init == "torch":  # the torch reference's random init, shared with torch: cells
    variables = _torch_runner(f"shared init of {cell.model}").shared_init_variables(
        backbone, int(config.seed), sample)
  else:
    variables = init_cache.init_variables(backbone, jax.random.key(config.seed), sample)
  meta = cell.meta()
  if cell.regime == "finetuned":
    variables, result = finetune_lib.finetune(
        backbone, cell.open("train"), cell.open("valid"), config.train, cell.train_dir,
        variables=variables)
    meta.update(learning_rate=result.learning_rate, best_epoch=result.best_epoch,
                best_metric=result.best_metric, train_accuracy=result.train_accuracy,
                train_dtype=finetune_lib.compute_dtype_name(config.train), **(result.speed or {}))
  meta.update(framework="jax", dtype=cell.embed_dtype, device_kind=jax.devices()[0].device_kind,
              device_count=jax.device_count())
  embed_fn = _embed_fn(backbone, rate, cell.embed_dtype)
  return extract_lib.extract(embed_fn, extract_lib.place_variables(variables), cell.batches(),
                             task=cell.split.info.task,
                             class_names=list(cell.split.info.class_names),
                             num_batches=cell.num_batches(), desc=cell.desc, meta=meta)


@functools.lru_cache(maxsize=16)
def _embed_fn(backbone: zoo.Backbone, rate: int, dtype: str):
  """One jitted extractor per (Backbone, rate, compute dtype): frozen and fine-tuned cells share
  its compilation (variables are an argument, not a constant). bfloat16 computes in bf16 with
  float32 parameters and a float32 embedding out."""
  module = backbone.training_module(cross_replica_bn=False, regularization=False,
                                    dtype=None if dtype == "float32" else jnp.dtype(dtype))
  return extract_lib.make_embed_fn(module, backbone.recipe.prepare, rate)[0]


def _torch_runner(model: str = "torch:<model>"):
  # Imported on demand so JAX-only runs never load torch.
  try:
    from bioacoustics_jax.baselines import runner  # pylint: disable=g-import-not-at-top
  except ModuleNotFoundError as e:
    raise ModuleNotFoundError(
        f"{model!r} (or a shared random init) needs the Python package {e.name!r}, which is not "
        "installed; install torch, torchvision and transformers in one pip command (see "
        f"requirements.txt), or drop {model!r} from config.models.") from e
  return runner


def _write_figure(workdir: str, es: EmbeddingSet, projections, cell: Cell,
                  eval_key: str) -> None:
  projection = next((projections[r] for r in ("umap", "tsne", "pca") if r in projections), None)
  if projection is None:
    return
  # The 2-D points beside the figure, for the paper grid's UMAP figure (report/paper_grid.py).
  stem = os.path.join(workdir, "projections", f"{cell.key}-{eval_key}")
  paths.save_npz(stem + ".npz", **{r: np.asarray(p, np.float32) for r, p in projections.items()},
                 labels=np.asarray(es.labels))
  figures.scatter(np.asarray(projection), es.labels, es.label_names,
                  title=f"{cell.dataset} / {cell.model} / {cell.regime}",
                  out_png=os.path.join(workdir, "figures",
                                       f"{cell.dataset}__{cell.model_dir}__{cell.regime}__"
                                       f"{cell.key[:8]}-{eval_key[:8]}.png"))


def _summary(rows: list[dict]) -> str:
  return "; ".join(f"{r['reducer']}+{r['clusterer']} NMI={r['nmi']:.3f}" for r in rows)
