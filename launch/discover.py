r"""Cluster an embedding store and write a listening page: `python -m launch.discover --store=W
[--clusters=8] [--out=DIR]`.

Writes DIR (default W/discover): windows.csv (recording, start, end, cluster, x, y: the 2-D map,
UMAP fitted on --map_sample windows), a Raven
selection table per recording under raven/, and index.html, an offline page with the clusters'
map, sizes, where in time and in which recordings they occur, and per cluster a gallery of
spectrogram thumbnails with playable snippets (bioacoustics_jax/soundscape/discover.py).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from launch import cpu_defaults  # noqa: E402

cpu_defaults.apply()  # before anything imports jax

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

_STORE = flags.DEFINE_string("store", None, "The store's folder (the --workdir of launch.embed).")
_OUT = flags.DEFINE_string("out", "", "Output folder (default <store>/discover).")
_CLUSTERS = flags.DEFINE_integer("clusters", 8, "k of k-means.")
_DIMS = flags.DEFINE_integer("dims", 32, "PCA components clustered.")
_EXAMPLES = flags.DEFINE_integer("examples", 6, "Windows shown per cluster (nearest its centre).")
_SEED = flags.DEFINE_integer("seed", 0, "k-means and UMAP seed.")
_MAP_SAMPLE = flags.DEFINE_integer("map_sample", 5000, "Windows the 2-D map's UMAP is fitted on "
                                   "(a seeded sample; the rest are placed by its transform).")
_AUDIO_ROOT = flags.DEFINE_string("audio_root", "", "The recordings' folder, if it moved.")
flags.mark_flags_as_required(["store"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from bioacoustics_jax.soundscape import discover  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import store as store_lib  # pylint: disable=g-import-not-at-top
  page = discover.discover(store_lib.Store.open(_STORE.value), _OUT.value,
                           clusters=_CLUSTERS.value, dims=_DIMS.value, seed=_SEED.value,
                           examples=_EXAMPLES.value, audio_root=_AUDIO_ROOT.value,
                           map_sample=_MAP_SAMPLE.value)
  print(f"Page: {page}\nWindows: {os.path.join(os.path.dirname(page), 'windows.csv')}\n"
        f"Raven tables: {os.path.join(os.path.dirname(page), 'raven')}")


if __name__ == "__main__":
  app.run(main)
