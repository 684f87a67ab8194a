r"""Search an embedding store by example: `python -m launch.search --store=W
--query=clip.wav[@START-END] --k=50 [--out=hits.csv]`.

The query clip (or its START-END seconds) is embedded by the store's own model and window
settings (bioacoustics_jax/soundscape/search.py); the k most similar stored windows (cosine)
are printed best first as csv: rank, recording, start, end, score, label (from a table beside the
recording, if any). Up to search.APPROXIMATE_ABOVE stored windows the search is exact (on
device, over a memory-mapped cache of the store built at the first search); beyond, a FAISS
index saved beside the store (built at the first search) finds them approximately. --method
forces either; which one ran is said on stderr.
"""

import csv
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from launch import cpu_defaults  # noqa: E402

cpu_defaults.apply()  # before anything imports jax

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

_STORE = flags.DEFINE_string("store", None, "The store's folder (the --workdir of launch.embed).")
_QUERY = flags.DEFINE_string("query", None, "clip.wav, or clip.wav@START-END in seconds.")
_K = flags.DEFINE_integer("k", 50, "How many windows to return.")
_OUT = flags.DEFINE_string("out", "", "Write the hits to this csv (default: print them).")
_WEIGHTS = flags.DEFINE_string("weights_dir", "", "Where the model's weights are (if any).")
_METHOD = flags.DEFINE_enum("method", "auto", ["auto", "exact", "approximate"],
                            "auto: exact up to search.APPROXIMATE_ABOVE windows, else approximate.")
_NLIST = flags.DEFINE_integer("nlist", 0, "Approximate: the index's cells (0 = sqrt of windows).")
_NPROBE = flags.DEFINE_integer("nprobe", 0, "Approximate: cells scanned per query (0 = 1/16).")
flags.mark_flags_as_required(["store", "query"])

FIELDS = ("rank", "recording", "start", "end", "score", "label")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from launch import compile_cache  # pylint: disable=g-import-not-at-top
  compile_cache.enable()
  from bioacoustics_jax.soundscape import search  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  store = store_lib.Store.open(_STORE.value)
  hits, method = search.search(store, _QUERY.value, _K.value, weights_dir=_WEIGHTS.value,
                               method=_METHOD.value, nlist=_NLIST.value, nprobe=_NPROBE.value)
  why = {"exact": f"at most {search.APPROXIMATE_ABOVE:,}",
         "approximate": f"more than {search.APPROXIMATE_ABOVE:,}"}[method]
  why = f"--method=auto: {why} windows" if _METHOD.value == "auto" else f"--method={method}"
  print(f"{method} search over {store.num_windows():,} windows ({why})", file=sys.stderr)
  out = open(_OUT.value, "w", newline="") if _OUT.value else sys.stdout
  writer = csv.DictWriter(out, FIELDS)
  writer.writeheader()
  for hit in hits:
    writer.writerow({**hit, "score": f"{hit['score']:.6f}"})
  if _OUT.value:
    out.close()
    print(f"{len(hits)} hits: {_OUT.value}")


if __name__ == "__main__":
  app.run(main)
