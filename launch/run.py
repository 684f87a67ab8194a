r"""Runs one experiment: `python -m launch.run --config=experiments/configs/X.py[:arg] --workdir=DIR`.

Any config field can be overridden from the command line (`--config.embed.batch_size=64`); a
misspelled field is an error, because configs are locked (launch/config_loader.py, the loader
launch.sweep uses too). On a Cloud TPU VM every host runs this
same command (see launch/tpu/).

`--print_config` prints every key of the resolved config (overrides applied) with its value and
the comment from the config source, and exits; `--help --config=PATH` also lists the config's
`:arg` keys and its docstring.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from launch import cpu_defaults  # noqa: E402

cpu_defaults.apply()  # before anything imports jax

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from launch import config_doc  # noqa: E402
from launch import config_loader  # noqa: E402

_CONFIG = flags.DEFINE_string("config", None, "Experiment config file[:arg]; override its fields "
                              "with --config.KEY=VALUE.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for data, embeddings and results.")
_PRINT_CONFIG = flags.DEFINE_bool(
    "print_config", False, "Print every config key with its value and comment, then exit.")
flags.mark_flags_as_required(["config"])
# --workdir is required for a run, not for --print_config.
flags.register_validator("workdir", lambda value: bool(value) or _PRINT_CONFIG.value,
                         message="--workdir is required (unless --print_config).")
_CLI_OVERRIDES: dict[str, str] = {}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_loader.load_for_command_line(_CONFIG.value, _CLI_OVERRIDES)
  if _PRINT_CONFIG.value:
    print(config_doc.describe(config, _CONFIG.value), end="")
    return
  # Fixes in errors are spelled for this command line (`:key=value` or --config.x.key=value).
  from bioacoustics_jax import option_syntax  # pylint: disable=g-import-not-at-top
  option_syntax.use_command_line(
      k for k, _ in config_doc.arg_keys(_CONFIG.value))
  # A multi-process run (JAX coordinator variables set) joins its peers before any JAX call.
  from bioacoustics_jax.parallel import distributed  # pylint: disable=g-import-not-at-top
  distributed.maybe_initialize()
  from launch import compile_cache  # pylint: disable=g-import-not-at-top
  logging.info("XLA compilation cache: %s", compile_cache.enable() or "off")
  # torch is imported only by the cells that run a PyTorch model ("torch:<name>").
  from bioacoustics_jax import experiment  # pylint: disable=g-import-not-at-top
  logging.info("Config:\n%s", config)
  results_csv = experiment.run_experiment(config, _WORKDIR.value)
  print(f"Results: {results_csv}\nReport:  {os.path.join(_WORKDIR.value, 'report.md')}\n"
        f"Page:    {os.path.join(_WORKDIR.value, 'report.html')}")


if __name__ == "__main__":
  __doc__ = config_doc.usage(__doc__, sys.argv)  # absl's --help prints __main__.__doc__
  app.run(main, flags_parser=config_loader.absl_flags_parser(_CLI_OVERRIDES))
