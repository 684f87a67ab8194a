"""Entry points: run.py (one experiment), sweep.py + sweeps/ (a config's sweep on Ray Tune), tpu/.

Design. Every entry point reads its config the same way, through config_loader.py:
`--config=PATH[:arg]` calls the module's `get_config(arg)`, `--config.KEY=VALUE` overrides a
field in that field's type, and the result is locked. config_doc.py (--help, --print_config)
and the perf scripts in experiments/perf/ load configs there too; config_checks.py (in the
package) then checks the values before any compute.
"""
