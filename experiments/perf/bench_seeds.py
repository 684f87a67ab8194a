r"""What seeds and half-sample intervals cost: one ClusteringEvaluator.evaluate, the old protocol
(seeds=1, no intervals) against the new default (seeds=5, 10 half-sample draws), on the same
synthetic embeddings.

  .venv/bin/python -m experiments.perf.bench_seeds --n=10000 --dim=512 --classes=10 \
      --reducers=pca,none --clusterers=kmeans,hdbscan \
      --out=experiments/perf/results/seeds_cpu_10000x512.md

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

_N = flags.DEFINE_integer("n", 10_000, "Embeddings.")
_DIM = flags.DEFINE_integer("dim", 512, "Embedding dimension.")
_CLASSES = flags.DEFINE_integer("classes", 10, "Classes (k).")
_REDUCERS = flags.DEFINE_list("reducers", ["pca", "none"], "Reducers.")
_CLUSTERERS = flags.DEFINE_list("clusterers", ["kmeans", "hdbscan"], "Clusterers.")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")

SETTINGS = {"old: seeds=1, no intervals": dict(seeds=1, interval_draws=0),
            "new default: seeds=5, 10 halves": dict()}


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator  # pylint: disable=g-import-not-at-top
  from sklearn.datasets import make_blobs  # pylint: disable=g-import-not-at-top
  low, y = make_blobs(_N.value, n_features=32, centers=_CLASSES.value, cluster_std=8.0,
                      random_state=2)
  basis = np.linalg.qr(np.random.default_rng(0).standard_normal((_DIM.value, 32)))[0].T
  x = (low @ basis + 0.5 * np.random.default_rng(1).standard_normal((_N.value, _DIM.value))
       ).astype(np.float32)
  es = EmbeddingSet(x, y, [f"clip{i:06d}" for i in range(len(y))],
                    [f"c{i}" for i in range(_CLASSES.value)])
  kwargs = dict(reducers=tuple(_REDUCERS.value), clusterers=tuple(_CLUSTERERS.value), log=None)
  warm = EmbeddingSet(x[:200], y[:200], es.ids[:200], es.label_names)
  ClusteringEvaluator(**kwargs, **SETTINGS["old: seeds=1, no intervals"]).evaluate(warm)
  lines, seconds = [], {}
  for name, setting in SETTINGS.items():
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    start = time.perf_counter()
    rows = ClusteringEvaluator(**kwargs, **setting).evaluate(es).rows
    seconds[name] = time.perf_counter() - start
    nmi = ", ".join(f"{r['reducer']}+{r['clusterer']} {r['nmi']:.3f} [{r['nmi_lo']:.3f}, "
                    f"{r['nmi_hi']:.3f}]" for r in rows)
    lines.append(f"| {name} | {seconds[name]:.1f} | {load} | {nmi} |")
  old, new = seconds.values()
  command = ("python -m experiments.perf.bench_seeds --n={} --dim={} --classes={} --reducers={} "
             "--clusterers={}".format(_N.value, _DIM.value, _CLASSES.value,
                                      ",".join(_REDUCERS.value), ",".join(_CLUSTERERS.value)))
  text = "\n".join([
      f"# Seeds and intervals: {_N.value} x {_DIM.value}, {_CLASSES.value} classes, CPU", "",
      f"Produced by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}"
      f" UTC, {os.cpu_count()} CPU cores (shared; load average 1/5/15 min at each start).", "",
      "| protocol | seconds | load | NMI [95 % half-sample interval] |", "|---|---|---|---|",
      *lines, "", f"Ratio new / old: {new / old:.2f}.", ""])
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      f.write(text)
  print(text)


if __name__ == "__main__":
  app.run(main)
