r"""Runs one experiment: `python -m launch.run --config=experiments/configs/X.py[:arg] --workdir=DIR`.

Any config field can be overridden from the command line (`--config.embed.batch_size=64`); a
misspelled field is an error, because configs are locked (launch/config_loader.py, the loader
launch.sweep uses too). On a Cloud TPU VM every host runs this
same command (see launch/tpu/).

The console shows each cell's start and end line, a progress bar and, at the end, a summary
table; everything else goes to `<workdir>/runs/<run id>/log.txt` (bioacoustics_jax/console.py),
and `-v` shows it here too. A user's mistake (launch/user_errors.py) is one `ERROR:` line with
the fix, its traceback in the log; a bug keeps its traceback on the console.

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
  if len(argv) > 1:  # one line, not absl's UsageError (which prints the whole usage first)
    print(f"ERROR: unexpected arguments {argv[1:]}; options are --name=value (--help lists "
          "them)", file=sys.stderr)
    sys.exit(2)
  if _PRINT_CONFIG.value:
    config = config_loader.load_for_command_line(_CONFIG.value, _CLI_OVERRIDES)
    print(config_doc.describe(config, _CONFIG.value), end="")
    return
  # The console shows each cell's start and end; every other line goes to the run's log.txt
  # (bioacoustics_jax/console.py); -v shows them all here too.
  from bioacoustics_jax import console  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import provenance  # pylint: disable=g-import-not-at-top
  run_id = provenance.new_run_id()
  log = console.setup(os.path.join(_WORKDIR.value, "runs", run_id, "log.txt"),
                      verbose=flags.FLAGS["verbosity"].present)
  try:
    results_csv = _run(run_id, log.path)
  except BaseException as e:  # pylint: disable=broad-except
    logging.error("The run stopped:", exc_info=True, extra=console.LOG_ONLY)
    where = log.close()
    if isinstance(e, KeyboardInterrupt):
      print(f"Interrupted; the log is {where}", file=sys.stderr)
      sys.exit(130)
    from launch import user_errors  # pylint: disable=g-import-not-at-top
    found = user_errors.find(e) if isinstance(e, Exception) else None
    if found is None:  # a bug, or an exit: its traceback stays on the console
      print(f"The log (with the traceback) is {where}", file=sys.stderr)
      raise
    user_errors.print_error(found, where)
    sys.exit(2)
  where = log.close()
  from launch import run_summary  # pylint: disable=g-import-not-at-top
  print(run_summary.table(_WORKDIR.value, run_id))
  print(f"Results: {results_csv}\nReport:  {os.path.join(_WORKDIR.value, 'report.md')}\n"
        f"Page:    {os.path.join(_WORKDIR.value, 'report.html')}\nLog:     {where}")


def _run(run_id: str, log_path: str) -> str:
  """Loads the config and runs it under `run_id`; returns the path of results.csv."""
  config = config_loader.load(_CONFIG.value, _CLI_OVERRIDES)
  print(f"Run {run_id}: the full log goes to {log_path}", file=sys.stderr)
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
  return experiment.run_experiment(config, _WORKDIR.value, run_id=run_id)


if __name__ == "__main__":
  __doc__ = config_doc.usage(__doc__, sys.argv)  # absl's --help prints __main__.__doc__
  app.run(main, flags_parser=config_loader.absl_flags_parser(_CLI_OVERRIDES))
