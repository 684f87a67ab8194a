r"""Runs one experiment: `python -m launch.run --config=experiments/configs/X.py[:arg] --workdir=DIR`.

Any config field can be overridden from the command line (`--config.embed.batch_size=64`); a
misspelled field is an error, because configs are locked. On a Cloud TPU VM every host runs this
same command (see launch/tpu/).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from launch import cpu_defaults  # noqa: E402

cpu_defaults.apply()  # before anything imports jax

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:arg].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for data, embeddings and results.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # A multi-process run (JAX coordinator variables set) joins its peers before any JAX call.
  from bioacoustics_jax.parallel import distributed  # pylint: disable=g-import-not-at-top
  distributed.maybe_initialize()
  # torch is imported only by the cells that run a PyTorch model ("torch:<name>").
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  logging.info("Config:\n%s", _CONFIG.value)
  results_csv = experiment.run_experiment(_CONFIG.value, _WORKDIR.value)
  print(f"Results: {results_csv}\nReport:  {os.path.join(_WORKDIR.value, 'report.md')}")


if __name__ == "__main__":
  app.run(main)
