"""The one config loader: `--config=PATH[:arg]` plus `--config.KEY=VALUE` overrides -> a locked
ConfigDict. launch.run, launch.sweep (each trial's base config), launch/config_doc.py
(--help, --print_config) and the perf scripts in experiments/perf/ all load configs here.

    rest, overrides = config_loader.split_cli_overrides(argv)  # before absl parses argv
    config = config_loader.load("experiments/configs/quickstart.py:smoke=true", overrides)

A config file is a Python module with `get_config(arg)` (big_vision style; `arg` is the text
after the colon, or None). An override's text is read in the type of the field it overrides
(a str field takes it as is; others as a Python literal; true/false for bools); an unknown key,
a wrong type or a missing file is a ConfigLoadError naming the key and the fix. Nothing here
imports JAX or the experiment: config modules only build ConfigDicts.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import pickle
import sys
from typing import Any

import ml_collections

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ConfigLoadError(ValueError):
  """A config that cannot be loaded; the message names the file or key and the fix."""


def load(config_path_and_arg: str, cli_overrides: dict[str, str] | None = None
         ) -> ml_collections.ConfigDict:
  """`get_config(arg)` of the module at PATH with the command line's overrides, locked."""
  path, _, arg = config_path_and_arg.partition(":")
  return resolve(load_module(path), arg or None, cli_overrides or {}, "command line")


def resolve(module, arg: str | None, cli_overrides: dict[str, str], where: str
            ) -> ml_collections.ConfigDict:
  """`module.get_config(arg)` with `--config.KEY=VALUE` texts applied (a locked copy)."""
  try:
    config = module.get_config(arg)
  except (ValueError, KeyError, TypeError, OSError) as e:  # its own checks: one line
    raise ConfigLoadError(f"{where}: get_config({arg!r}) failed: {e}") from None
  typed = {k: parse_text(k, v, lookup(config, k)) for k, v in cli_overrides.items()}
  config = apply(config, typed, "command line")
  check_effect(module, config, typed, "command line: --config.{key}")
  return config


# A config module may declare fields whose override is harmless though the config's grid or
# smoke mode replaces it: HARMLESS_OVERRIDES = {"evaluate.x": "why"} (a warning, not an error).
HARMLESS = "HARMLESS_OVERRIDES"


def check_effect(module, config: ml_collections.ConfigDict, overrides: dict[str, Any],
                 where: str) -> None:
  """Refuses an override (or swept field) that no part of the run reads because the config's
  grid or smoke mode replaces it (bioacoustics_jax/eval_settings.py computes which), naming
  what replaces it; a field in the module's HARMLESS_OVERRIDES is only warned about.
  `where` names the place; its "{key}" is replaced by the field."""
  from bioacoustics_jax import eval_settings  # pylint: disable=g-import-not-at-top
  harmless = getattr(module, HARMLESS, {})
  for key in overrides:
    why = eval_settings.unused(config, key)
    if not why:
      continue
    message = f"{where.replace('{key}', key)} has no effect: {why}"
    if key in harmless:
      from absl import logging  # pylint: disable=g-import-not-at-top
      logging.warning("%s (%s declares it harmless: %s)", message, module.__name__, harmless[key])
      continue
    raise ConfigLoadError(f"{message}; change what replaces it instead.")


def load_module(path: str):
  """The config module at `path` (the repository root importable, for its own imports)."""
  if not os.path.exists(path):
    raise ConfigLoadError(f"Config file {path} does not exist.")
  if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ConfigLoadError(f"{path} has no get_config(arg).")
  return module


def split_cli_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Takes `--config.KEY=VALUE` out of argv (absl would refuse them): (rest, {KEY: VALUE})."""
  rest, overrides = [], {}
  for item in argv:
    if item.startswith("--config."):
      key, sep, value = item[len("--config."):].partition("=")
      if not sep:
        raise ConfigLoadError(f"{item}: write --config.{key}=VALUE.")
      overrides[key] = value
    else:
      rest.append(item)
  return rest, overrides


def load_for_command_line(config_path_and_arg: str, cli_overrides: dict[str, str]
                          ) -> ml_collections.ConfigDict:
  """`load` for an entry point: a config that cannot be loaded is one `ERROR:` line on stderr
  and exit status 2 (absl's UsageError would print the whole usage text above it)."""
  try:
    return load(config_path_and_arg, cli_overrides)
  except ConfigLoadError as e:
    print(f"ERROR: {e}", file=sys.stderr)
    raise SystemExit(2) from None


HELP_FLAGS = ("--help", "-help", "-?", "--helpshort", "-helpshort", "--helpfull", "-helpfull")


def absl_flags_parser(overrides: dict[str, str]):
  """absl's `app.run(main, flags_parser=...)` for every entry point: `--config.KEY=VALUE` go
  into `overrides` (read by `load`), the rest are parsed as absl flags. Asked for help, absl
  prints it and exits 1; here that exit is 0 (help is not a failure). A bare `-v` is `-v=0`
  (absl's verbosity flag wants a value): every INFO line on the console (launch/run.py)."""
  def parse(argv: list[str]) -> list[str]:
    from absl import flags  # pylint: disable=g-import-not-at-top
    try:
      rest, found = split_cli_overrides(argv)
    except ConfigLoadError as e:
      print(f"ERROR: {e}", file=sys.stderr)
      raise SystemExit(2) from None
    overrides.update(found)
    rest = ["-v=0" if a == "-v" else a for a in rest]
    try:
      return flags.FLAGS(rest)
    except SystemExit as e:
      if e.code == 1 and any(a.partition("=")[0] in HELP_FLAGS for a in rest[1:]):
        raise SystemExit(0) from None
      raise
  return parse


def parse_text(key: str, text: str, current: Any) -> Any:
  """A command-line value in the type of the field it overrides (str fields take it as is)."""
  if isinstance(current, str):
    return text
  if isinstance(current, bool):
    if text.lower() not in ("true", "false", "1", "0"):
      raise ConfigLoadError(f"--config.{key}={text!r}: expected true or false.")
    return text.lower() in ("true", "1")
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError) as e:
    if current is None:
      return text
    raise ConfigLoadError(f"--config.{key}={text!r} is not a Python literal of type "
                          f"{type(current).__name__} ({e}).") from None


def apply(config: ml_collections.ConfigDict, overrides: dict[str, Any], where: str
          ) -> ml_collections.ConfigDict:
  """A locked copy of `config` with dotted-key overrides, each checked against its field."""
  # An in-memory pickle round trip copies a ConfigDict 3x faster than ConfigDict(to_dict()),
  # which is most of a 1,000-trial dry run. Locked: existing fields change, none is added.
  config = pickle.loads(pickle.dumps(config))
  config.lock()
  for key, value in overrides.items():
    node, parts = config, key.split(".")
    for i, part in enumerate(parts):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        raise ConfigLoadError(f"{where}: unknown key {key!r} (no field "
                              f"{'.'.join(parts[:i + 1])!r}); nearest keys: "
                              f"{', '.join(nearest_keys(config, key)) or '(none)'}")
      if i < len(parts) - 1:
        node = node[part]
    node[parts[-1]] = _checked(where, key, value, node[parts[-1]])
  return config.lock()


def nearest_keys(config: ml_collections.ConfigDict, key: str, n: int = 5) -> list[str]:
  """Up to `n` dotted keys of `config` that look most like `key` (a misspelling's fix)."""
  keys = list(_dotted_keys(config))
  near = difflib.get_close_matches(key, keys, n=n, cutoff=0.6)
  last = key.rpartition(".")[2]  # the right name under the wrong section
  near += [k for k in keys if k.rpartition(".")[2] == last and k not in near]
  return near[:n]


def _dotted_keys(node: ml_collections.ConfigDict, prefix: str = ""):
  for name in node.keys():
    if isinstance(node[name], ml_collections.ConfigDict):
      yield from _dotted_keys(node[name], f"{prefix}{name}.")
    yield prefix + name


def _checked(where: str, key: str, value: Any, current: Any) -> Any:
  """`value` if it has the field's type (int for float and list for tuple are converted)."""
  if current is None:
    return value
  if isinstance(current, ml_collections.ConfigDict):
    if not isinstance(value, dict):
      raise ConfigLoadError(f"{where}: {key!r} is a section; set its fields ({key}.x) or give "
                            "a dict.")
    return value
  if isinstance(current, tuple) and isinstance(value, list):
    value = tuple(value)
  ok = (isinstance(value, type(current)) and not (isinstance(value, bool) and
                                                   not isinstance(current, bool))
        or isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool))
  if not ok:
    raise ConfigLoadError(f"{where}: {key}={value!r} is a {type(value).__name__}; the field is "
                          f"a {type(current).__name__} (now {current!r}).")
  return float(value) if isinstance(current, float) else value


def lookup(config, key: str) -> Any:
  """The value at dotted `key`, or None where there is no such field."""
  node = config
  for part in key.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return None  # apply() names the unknown key
    node = node[part]
  return node
