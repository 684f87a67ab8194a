r"""What seeds and half-sample intervals cost: one ClusteringEvaluator.evaluate, the old protocol
(seeds=1, no intervals) against the new default (seeds=5, 10 half-sample draws), on the same
synthetic embeddings.

  .venv/bin/python -m experiments.perf.bench_seeds --n=10000 --dim=512 --classes=10 \
      --reducers=pca,none --clusterers=kmeans,hdbscan \
      --out=experiments/perf/results/seeds_cpu_10000x512.md

The paper grid's reducer settings (experiments/configs/beans_paper.py GRID, k-means after each),
old protocol with sklearn's t-SNE against the new default with the JAX t-SNE (evaluate/jax_tsne.py),
one setting after the other, old then new, so both see the same load:

  .venv/bin/python -m experiments.perf.bench_seeds --n=1000 --dim=512 --classes=10 \
      --grid=tsne25,tsne100,umap50_05,umap50_01,umap100_05 --clusterers=kmeans \
      --out=experiments/perf/results/seeds_cpu_paper_grid_1000.md

The data: overlapping Gaussian classes (sklearn make_blobs, std 8) in a random 32-d subspace of
D, plus isotropic noise.
Each setting runs once, after one untimed warm-up call of the cheap protocol on 200 points (JAX
and numba compilation out of the timings). The header records the load average: the 2 cores are
shared, so compare ratios from one file, not seconds across files.
"""

from __future__ import annotations

import datetime
import os
import time

from absl import app
from absl import flags

from experiments.perf import output

_N = flags.DEFINE_integer("n", 10_000, "Embeddings.")
_DIM = flags.DEFINE_integer("dim", 512, "Embedding dimension.")
_CLASSES = flags.DEFINE_integer("classes", 10, "Classes (k).")
_REDUCERS = flags.DEFINE_list("reducers", ["pca", "none"], "Reducers.")
_CLUSTERERS = flags.DEFINE_list("clusterers", ["kmeans", "hdbscan"], "Clusterers.")
_GRID = flags.DEFINE_list("grid", [], "Paper grid settings (beans_paper.GRID names) to time "
                          "instead of --reducers; the old protocol then uses sklearn's t-SNE.")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")

SETTINGS = {"old: seeds=1, no intervals": dict(seeds=1, interval_draws=0),
            "new default: seeds=5, 10 halves": dict()}
OLD_TSNE = dict(tsne_impl="sklearn")  # the t-SNE of the old protocol (before jax_tsne.py)


def _cases() -> list[tuple[str, str, dict]]:
  """(setting, protocol, evaluator keywords), old before new for each setting."""
  if not _GRID.value:
    base = dict(reducers=tuple(_REDUCERS.value))
    return [("", name, dict(base, **s)) for name, s in SETTINGS.items()]
  from experiments.configs import beans_paper  # pylint: disable=g-import-not-at-top
  cases = []
  for grid_name in _GRID.value:
    old, new = SETTINGS.values()
    cases.append((grid_name, "old: seeds=1, no intervals, sklearn t-SNE",
                  dict(beans_paper.GRID[grid_name], **old, **OLD_TSNE)))
    cases.append((grid_name, "new default: seeds=5, 10 halves, JAX t-SNE",
                  dict(beans_paper.GRID[grid_name], **new)))
  return cases


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator  # pylint: disable=g-import-not-at-top
  from experiments.perf.blobs import blobs  # pylint: disable=g-import-not-at-top
  x, y = blobs(_N.value, _DIM.value, _CLASSES.value)
  es = EmbeddingSet(x, y, [f"clip{i:06d}" for i in range(len(y))],
                    [f"c{i}" for i in range(_CLASSES.value)])
  kwargs = dict(clusterers=tuple(_CLUSTERERS.value), log=None)
  warm = EmbeddingSet(x[:200], y[:200], es.ids[:200], es.label_names)
  warm_reducers = tuple(r for r in ("pca", "umap") if r in _REDUCERS.value or _GRID.value) or (
      "pca",)
  ClusteringEvaluator(reducers=warm_reducers, **kwargs,
                      **SETTINGS["old: seeds=1, no intervals"]).evaluate(warm)
  lines, seconds = [], {}
  for setting, name, keywords in _cases():
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    start = time.perf_counter()
    rows = ClusteringEvaluator(**kwargs, **keywords).evaluate(es).rows
    seconds[setting, name] = time.perf_counter() - start
    nmi = ", ".join(f"{r['reducer']}+{r['clusterer']} {r['nmi']:.3f} [{r['nmi_lo']:.3f}, "
                    f"{r['nmi_hi']:.3f}]" for r in rows)
    lines.append(f"| {setting} | {name} | {seconds[setting, name]:.1f} | {load} | {nmi} |")
    print(lines[-1], flush=True)
  old = sum(v for (_, name), v in seconds.items() if name.startswith("old"))
  new = sum(v for (_, name), v in seconds.items() if name.startswith("new"))
  command = ("python -m experiments.perf.bench_seeds --n={} --dim={} --classes={} {} "
             "--clusterers={}".format(_N.value, _DIM.value, _CLASSES.value,
                                      f"--grid={','.join(_GRID.value)}" if _GRID.value else
                                      f"--reducers={','.join(_REDUCERS.value)}",
                                      ",".join(_CLUSTERERS.value)))
  text = "\n".join([
      f"# Seeds and intervals: {_N.value} x {_DIM.value}, {_CLASSES.value} classes, CPU", "",
      f"Produced by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}"
      f" UTC, {os.cpu_count()} CPU cores (shared; load average 1/5/15 min at each start).", "",
      "| setting | protocol | seconds | load | NMI [95 % half-sample interval] |",
      "|---|---|---|---|---|", *lines, "",
      f"Total old {old:.1f} s, new {new:.1f} s: ratio new / old {new / old:.2f}.", ""])
  output.emit([text.rstrip("\n")], _OUT.value)


if __name__ == "__main__":
  app.run(main)
