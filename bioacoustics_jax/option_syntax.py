"""How a fix names an option: in the syntax of the command the user typed.

A fix that says `pass skip_bad_audio=True` is right for a Python caller of `open_split` and wrong
for someone who typed `--config=own_data.py:root=...`. Every message that tells the user to set
an option asks `spell("data.skip_bad_audio", True)`:

  from Python (the default)        skip_bad_audio=True
  launch.run, a key of the config  `:skip_bad_audio=true` (added to the --config=FILE:arg)
    file's :arg
  launch.run, any other key        --config.data.skip_bad_audio=true

launch/run.py calls `use_command_line(keys)` with the `:arg` keys of the config file it loaded.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator

# None: Python; a frozenset: the command line, with the keys the config file's :arg accepts.
_command_line_keys: frozenset[str] | None = None


def use_command_line(arg_keys: Iterable[str]) -> None:
  """From now on fixes are spelled for the command line (launch/run.py)."""
  global _command_line_keys
  _command_line_keys = frozenset(arg_keys)


@contextlib.contextmanager
def command_line(arg_keys: Iterable[str]) -> Iterator[None]:
  """`use_command_line` for the duration of a block (tests, launchers that run several)."""
  global _command_line_keys
  before = _command_line_keys
  use_command_line(arg_keys)
  try:
    yield
  finally:
    _command_line_keys = before


def spell(config_key: str, value: Any) -> str:
  """`config_key` (dotted, as under `config.`) set to `value`, as the user would type it."""
  name = config_key.rpartition(".")[2]
  if _command_line_keys is None:
    return f"{name}={value!r}"
  text = str(value).lower() if isinstance(value, bool) else str(value)
  if name in _command_line_keys:
    return f"`:{name}={text}` in --config"
  return f"--config.{config_key}={text}"
