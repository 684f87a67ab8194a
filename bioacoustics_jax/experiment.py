"""run_experiment(config, workdir): datasets x models x regimes -> embeddings -> clusters -> report.

    results_csv = run_experiment(config, workdir)      # launch/run.py's one call

Check the config (config_checks.py), resolve every model once and build the grid (grid.py),
then for each cell: open it and load or compute its embeddings (cells/), evaluate them under
every evaluator setting, write its rows; then write the reports. Every cell writes its embedding
set under `<cache dir>/embeddings/<dataset>/<model>/<regime>-<key>.npz` and its rows into
`<workdir>/results.csv` before the next cell starts, so a killed run resumes where it stopped:
finished embedding sets are loaded, not recomputed, and re-written rows replace the old ones.

Multi-host (every host runs the same command): every process opens each cell and takes part in
its embedding (cells/store.py says which cells are collective); only process 0 writes data,
embeddings, rows, reports, figures and run.json and evaluates, and all processes meet at a
barrier after each cell (parallel/distributed.py). The data flows one way: the cell hands
evaluation its embedding set and, for the probes, the train split's; evaluation asks nothing back.
"""

from __future__ import annotations

import os
import time

import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax import config_checks
from bioacoustics_jax import console
from bioacoustics_jax import grid
from bioacoustics_jax import paths
from bioacoustics_jax import provenance
from bioacoustics_jax.cells import store
from bioacoustics_jax.cells.cell import Cell
from bioacoustics_jax.data import summary as data_summary
from bioacoustics_jax.embed.embedding_set import EmbeddingSet
from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator
from bioacoustics_jax.parallel import distributed
from bioacoustics_jax.results import store as results

# The report stack (matplotlib, the HTML and markdown writers) is imported where the first
# cell's rows are written, not before its embeddings: a run's first cell starts without it.


def run_experiment(config: ml_collections.ConfigDict, workdir: str,
                   argv: list[str] | None = None, cells_dir: str | None = None,
                   run_id: str | None = None) -> str:
  """Runs every cell of `config` and returns the path of results.csv.

  `cells_dir` (default `workdir`) holds the cells' caches (embeddings/, train/): the trials of a
  sweep pass one shared folder, so a cell is computed once for all of them (cells/store.py).

  Before any compute: every config value is checked (config_checks.py), every model resolved
  and its weights found. Then each cell is loaded from its key's cache or computed, evaluated
  and appended to results.csv. run.json records the run throughout; if a cell fails, report.md
  is still written for the cells that finished, lists the failure, and the error is re-raised.
  """
  config_checks.check(config)
  backbones = grid.resolve_models(config)  # unknown names and missing weights fail now
  config_checks.check_writable(workdir, config.data.get("cache_dir", ""))  # read-only: now
  evaluators = grid.make_evaluators(config)
  workdir = paths.absolute(workdir)  # a gs:// URI stays one (never a local `gs:` folder)
  grid.resolve_data_root(config, workdir)  # raw audio must be local or mounted: fail now
  distributed.check_setup(config.to_json(), workdir)  # same config, devices, shared workdir
  paths.makedirs(workdir)
  record = provenance.start_run(workdir, config, argv=argv, run_id=run_id)
  logging.info("Run %s: %s", record.run_id, record.path)
  results_csv = os.path.join(workdir, "results.csv")
  failures = []
  try:
    data_root, datasets = grid.prepare_data(config, workdir)
    cells = grid.make_cells(config, backbones, data_root, datasets, workdir,
                            cells_dir or workdir)
    for i, cell in enumerate(cells, 1):
      logging.info("[%d/%d] %s x %s (%s)", i, len(cells), cell.dataset, cell.model, cell.regime,
                   extra=console.SHOW)
      start = time.perf_counter()
      try:
        cell = cell.opened()  # the splits, once; the key
        got = store.embed_cell(cell, config, probe_train=evaluators[0].needs_train)
        rows, meta = [], {}
        if distributed.is_main():
          rows = _evaluate_cell(cell, got, config, evaluators, workdir, results_csv,
                                record.run_id)
          meta = provenance.reported_meta(got.embeddings.meta)  # report.md reads it from run.json
        distributed.barrier(f"cell {i} {cell.key}")
      except Exception as e:
        failures.append(dict(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                             error=f"{type(e).__name__}: {e}".splitlines()[0]))
        record.add_cell(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                        status="failed", error=failures[-1]["error"])
        raise
      seconds = time.perf_counter() - start
      record.add_cell(dataset=cell.dataset, model=cell.model, regime=cell.regime,
                      cell_key=cell.key, status="ok", seconds=round(seconds, 2), meta=meta)
      logging.info("[%d/%d] done in %.0f s%s", i, len(cells), seconds, _summary(rows),
                   extra=console.SHOW)
  except BaseException as e:
    # run.json first: the reports read its final status, its cells and their data checks.
    record.finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=e)
    _write_reports(workdir, results_csv, record.run_id, failures)
    raise
  record.finish("ok")
  report_md = _write_reports(workdir, results_csv, record.run_id, failures)
  if config.get("paper_report"):  # the paper grid beside the paper's numbers (beans_paper.py)
    from bioacoustics_jax.report.paper_grid import document as paper_grid
    logging.info("Wrote %s", paper_grid.write_report([results_csv], workdir))
  logging.info("Wrote %s, %s and report.html", results_csv, report_md)
  return results_csv


def _evaluate_cell(cell: Cell, got: store.CellEmbeddings, config,
                   evaluators: list[ClusteringEvaluator], workdir: str, results_csv: str,
                   run_id: str) -> list[dict]:
  """Evaluates one cell's embeddings under every evaluator setting, records its rows (and its
  probe rows); process 0 only."""
  from bioacoustics_jax.report import tensorboard as report_tensorboard
  from bioacoustics_jax.report.html import views
  es = got.embeddings
  data_summary.log_warnings(es.meta, logging.warning)
  if got.probes and evaluators[0].probe_evaluator is not None:
    _write_probe_rows(cell, evaluators[0], got, os.path.join(workdir, "probes.csv"), run_id)
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
  return all_rows


def _write_probe_rows(cell: Cell, evaluator: ClusteringEvaluator, got: store.CellEmbeddings,
                      probes_csv: str, run_id: str) -> None:
  """Linear probe / kNN / few-shot rows of the cell (config.evaluate.probes) into probes.csv,
  from the embedding sets the cell handed over (the train split's only when a probe needs it)."""
  rows = evaluator.evaluate_probes(got.train, got.embeddings)
  results.append_probe_rows(probes_csv, [
      dict(r, dataset=cell.dataset, model=cell.model, regime=cell.regime, split=cell.split_name,
           cell_key=cell.key, eval_key=evaluator.eval_key, run_id=run_id) for r in rows])


def _write_reports(workdir: str, results_csv: str, run_id: str, failures: list[dict]) -> str:
  """report.md (this run's rows, its failures, each dataset's origin, input-check warnings and
  skipped files, read back from run.json as the rebuild reads them) and report.html; process 0
  only."""
  report_md = os.path.join(workdir, "report.md")
  if not distributed.is_main() or (not paths.exists(results_csv) and not failures):
    return report_md
  from bioacoustics_jax.report.html import document as html_report
  from bioacoustics_jax.report.markdown import document as markdown
  from bioacoustics_jax.report.markdown import run_report
  run_report.write_run_report(workdir, run_id, paper_csv=markdown.PAPER_SCORES)
  if paths.exists(results_csv):
    html_report.write_html(workdir, paper_csv=markdown.PAPER_SCORES)
  return report_md


def _train_label_note(cell: Cell, es: EmbeddingSet) -> str:
  """Names classes of the evaluated split that the train split's annotations lack
  (classification), read without preparing the train split (a frozen cell never reads it)."""
  if cell.split.info.task != "classification" or cell.split_name == "train":
    return ""
  try:
    train_classes = cell.annotated_classes("train")
  except (KeyError, ValueError, FileNotFoundError):
    return ""  # no train split
  absent = sorted(set(np.unique(es.labels).tolist()) - train_classes)
  if not absent:
    return ""
  names = [es.label_names[i] for i in absent]
  return f"classes absent from train: {', '.join(map(str, names))}"


def _write_figure(workdir: str, es: EmbeddingSet, projections, cell: Cell,
                  eval_key: str) -> None:
  projection = next((projections[r] for r in ("umap", "tsne", "pca") if r in projections), None)
  if projection is None:
    return
  from bioacoustics_jax.report import figures  # pylint: disable=g-import-not-at-top  (matplotlib)
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
  """The cell's best NMI and where it was reached (every score: the log, results.csv)."""
  scored = [r for r in rows if r["nmi"] == r["nmi"]]  # NaN: not scorable
  if not scored:
    return ""
  best = max(scored, key=lambda r: r["nmi"])
  return (f": best NMI {best['nmi']:.3f} ({best['reducer']}+{best['clusterer']}) of "
          f"{len(rows)} setting(s)")
