r"""How far the JAX t-SNE (evaluate/jax_tsne.py, the evaluator's default) is from sklearn's TSNE:
both on the same embeddings, seed by seed, scored as the evaluator scores them (k-means NMI
against the labels on the 2-D layout) and by trustworthiness (sklearn, 10 neighbours). For
scale, sklearn against itself at the next seed (the spread the seeds already show).

  .venv/bin/python -m experiments.perf.tsne_agreement --n=300 --dim=512 --classes=10 \
      --perplexity=25 --init=random --max_iter=1000 --seeds=3 \
      --out=experiments/perf/results/tsne_agreement_cpu.md

The data are bench_seeds.py's (overlapping Gaussian classes in a 32-d subspace of D, plus noise).
"""

from __future__ import annotations

import datetime
import os
import time

from absl import app
from absl import flags

from experiments.perf import output

_N = flags.DEFINE_integer("n", 300, "Embeddings.")
_DIM = flags.DEFINE_integer("dim", 512, "Embedding dimension.")
_CLASSES = flags.DEFINE_integer("classes", 10, "Classes (k).")
_PERPLEXITY = flags.DEFINE_float("perplexity", 25.0, "t-SNE perplexity.")
_INIT = flags.DEFINE_string("init", "random", "t-SNE init: random or pca.")
_MAX_ITER = flags.DEFINE_integer("max_iter", 1000, "t-SNE iterations.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds 0 .. seeds - 1.")
_OUT = flags.DEFINE_string("out", None, "Markdown file for the table (printed if unset).")


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top
  from sklearn.manifold import trustworthiness  # pylint: disable=g-import-not-at-top
  from sklearn.metrics import normalized_mutual_info_score as nmi  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate import reduce as reduce_lib  # pylint: disable=g-import-not-at-top
  from experiments.perf.blobs import blobs  # pylint: disable=g-import-not-at-top
  x, y = blobs(_N.value, _DIM.value, _CLASSES.value)

  def layout(impl, seed):
    settings = reduce_lib.ReduceSettings(
        seed=seed, tsne_perplexity=_PERPLEXITY.value, tsne_init=_INIT.value,
        tsne_max_iter=_MAX_ITER.value, tsne_impl=impl)
    start = time.perf_counter()
    out = reduce_lib.reduce("tsne", x, settings)
    return out, time.perf_counter() - start

  def scores(projected, seed):
    labels = KMeans(_CLASSES.value, n_init=10, random_state=seed).fit_predict(projected)
    return nmi(y, labels), trustworthiness(x, projected, n_neighbors=10), labels

  layout("jax", 0)  # compiles once, untimed
  lines, table = [], {"jax": [], "sklearn": [], "cross": [], "sk_sk": [], "seconds": []}
  sk_next = layout("sklearn", 0)[0]
  for seed in range(_SEEDS.value):
    sk, sk_s = sk_next, None
    ours, ours_s = layout("jax", seed)
    sk_next, sk_s = layout("sklearn", seed + 1)
    a, b, c = scores(ours, seed), scores(sk, seed), scores(sk_next, seed)
    cross, sk_sk = nmi(a[2], b[2]), nmi(b[2], c[2])
    for key, value in (("jax", a[:2]), ("sklearn", b[:2]), ("cross", cross), ("sk_sk", sk_sk),
                       ("seconds", (ours_s, sk_s))):
      table[key].append(value)
    lines.append(f"| {seed} | {a[0]:.3f} | {b[0]:.3f} | {a[1]:.4f} | {b[1]:.4f} | {cross:.3f} | "
                 f"{sk_sk:.3f} | {ours_s:.1f} / {sk_s:.1f} |")
    print(lines[-1], flush=True)
  mean = {k: np.mean(np.asarray(v), axis=0) for k, v in table.items()}
  command = ("python -m experiments.perf.tsne_agreement --n={} --dim={} --classes={} "
             "--perplexity={:g} --init={} --max_iter={} --seeds={}".format(
                 _N.value, _DIM.value, _CLASSES.value, _PERPLEXITY.value, _INIT.value,
                 _MAX_ITER.value, _SEEDS.value))
  text = "\n".join([
      f"# JAX t-SNE vs sklearn TSNE: {_N.value} x {_DIM.value}, {_CLASSES.value} classes", "",
      f"Produced by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}"
      f" UTC, {os.cpu_count()} CPU cores (shared, load average "
      f"{'/'.join(f'{v:.1f}' for v in os.getloadavg())} at the end).", "",
      "NMI: k-means (k = classes, n_init 10) on the layout against the labels. Trust: "
      "trustworthiness, 10 neighbours. Cross: NMI between the k-means partitions of the JAX and "
      "sklearn layouts of one seed; sklearn-sklearn: the same between sklearn's seeds s and s + 1 "
      "(the seed spread, for scale). Seconds: wall time of one layout, JAX / sklearn.", "",
      "| seed | NMI JAX | NMI sklearn | trust JAX | trust sklearn | cross NMI | sklearn-sklearn "
      "NMI | seconds |", "|---|---|---|---|---|---|---|---|", *lines,
      f"| mean | {mean['jax'][0]:.3f} | {mean['sklearn'][0]:.3f} | {mean['jax'][1]:.4f} | "
      f"{mean['sklearn'][1]:.4f} | {mean['cross']:.3f} | {mean['sk_sk']:.3f} | "
      f"{mean['seconds'][0]:.1f} / {mean['seconds'][1]:.1f} |", ""])
  output.emit([text.rstrip("\n")], _OUT.value)


if __name__ == "__main__":
  app.run(main)
