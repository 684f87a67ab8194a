r"""Embeds an archive of long recordings into a store: `python -m launch.embed
--config=experiments/configs/archive.py:root=PATH,model=NAME --workdir=W`.

Any config field can be overridden (`--config.archive.hop_seconds=2.5`). On a pod slice or a
multi-process run every host runs this same command (jax.distributed starts first) and takes
its share of the recordings; process 0 keeps the manifest. On many independent machines,
`--ray_workers=N [--ray_address=HOST:PORT]` runs the same job as N Ray tasks (launch/embed_ray.py).
See bioacoustics_jax/soundscape/.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from launch import cpu_defaults  # noqa: E402

cpu_defaults.apply()  # before anything imports jax

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from launch import config_doc  # noqa: E402
from launch import config_loader  # noqa: E402

_CONFIG = flags.DEFINE_string("config", None, "Archive config file[:arg]; override its fields "
                              "with --config.KEY=VALUE.")
_WORKDIR = flags.DEFINE_string("workdir", None, "The store's folder (created or resumed).")
_RAY_WORKERS = flags.DEFINE_integer("ray_workers", 0, "Run as this many Ray tasks, each embedding "
                                    "a share of the recordings (0: this process and its "
                                    "jax.distributed peers).")
_RAY_ADDRESS = flags.DEFINE_string("ray_address", None, "A Ray cluster (host:port); default: a "
                                   "local loopback-only Ray.")
_RAY_GPUS = flags.DEFINE_float("ray_gpus_per_worker", 0, "GPUs each Ray task asks for.")
_RAY_CPUS = flags.DEFINE_float("ray_cpus_per_worker", 1, "CPUs each Ray task asks for.")
flags.mark_flags_as_required(["config", "workdir"])
_CLI_OVERRIDES: dict[str, str] = {}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_loader.load_for_command_line(_CONFIG.value, _CLI_OVERRIDES)
  if _RAY_WORKERS.value:
    from launch import embed_ray  # pylint: disable=g-import-not-at-top
    store = embed_ray.embed_archive(config, _WORKDIR.value, _RAY_WORKERS.value,
                                    _RAY_ADDRESS.value, gpus_per_worker=_RAY_GPUS.value,
                                    cpus_per_worker=_RAY_CPUS.value)
    print(f"Store: {store.path} ({len(store.recordings)} recordings, {store.num_windows()} "
          "windows)")
    return
  from bioacoustics_jax.parallel import distributed  # pylint: disable=g-import-not-at-top
  distributed.maybe_initialize()
  from launch import compile_cache  # pylint: disable=g-import-not-at-top
  compile_cache.enable()
  from bioacoustics_jax.soundscape import archive  # pylint: disable=g-import-not-at-top
  store = archive.embed_archive(config, _WORKDIR.value)
  if distributed.is_main():
    print(f"Store: {store.path} ({len(store.recordings)} recordings, {store.num_windows()} "
          "windows)")


if __name__ == "__main__":
  __doc__ = config_doc.usage(__doc__, sys.argv)
  app.run(main, flags_parser=config_loader.absl_flags_parser(_CLI_OVERRIDES))
