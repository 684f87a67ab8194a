"""What a config offers, read from its source: every key with its value and comment, its :arg keys.

Sits beside launch/run.py, before any experiment runs: `--print_config` prints `describe(...)` and
exits, and `--help` with `--config=PATH` appends `arg_help(PATH)`. Nothing here imports the
experiment or JAX; the config module and the modules it imports from this repository are parsed
(ast + tokenize), never executed, so a comment is found where a person wrote it:

- `config.a.b = value  # comment`, or comment lines right above such an assignment;
- `key=value,  # comment` inside a `dict(...)` / `ConfigDict(...)` literal, with the comment's
  continuation lines (comment-only lines that start in the same column) joined onto it.

A config section (a ConfigDict node) takes its keys' comments from the dict literal whose keywords
cover the node's keys best (`config.train = default_train_config()` finds the literal in
train/config.py), so a section built by a helper in another file still gets its comments.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import io
import os
import sys
import tokenize
from typing import Any, Iterable

import ml_collections

from launch import config_loader

# Help flags absl answers by printing __main__'s docstring and exiting.
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class _Sources:
  assigned: dict[str, str]           # "train.num_epochs" -> comment, from `config.x = ...` lines
  literals: list[dict[str, str]]     # per dict literal: keyword -> comment ("" if none)


def _comments_by_line(text: str) -> dict[int, tuple[int, str, bool]]:
  """{line: (column, comment text, is it alone on its line)} for every comment in `text`."""
  out = {}
  code_lines = set()
  for tok in tokenize.generate_tokens(io.StringIO(text).readline):
    if tok.type == tokenize.COMMENT:
      out[tok.start[0]] = (tok.start[1], tok.string.lstrip("#").strip(), False)
    elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
      code_lines.update(range(tok.start[0], tok.end[0] + 1))
  return {line: (col, text_, line not in code_lines) for line, (col, text_, _) in out.items()}


def _trailing(comments, line: int, code_column: int) -> str:
  """The comment ending `line` plus its continuation: the comment-only lines after it that are
  indented deeper than the code (a heading for the next key sits at the code's column)."""
  if line not in comments or comments[line][2]:
    return ""
  parts = [comments[line][1]]
  nxt = line + 1
  while nxt in comments and comments[nxt][2] and comments[nxt][0] > code_column:
    parts.append(comments[nxt][1])
    nxt += 1
  return " ".join(p for p in parts if p)


def _above(comments, line: int) -> str:
  """The block of comment-only lines directly above `line`."""
  parts = []
  prev = line - 1
  while prev in comments and comments[prev][2]:
    parts.insert(0, comments[prev][1])
    prev -= 1
  return " ".join(p for p in parts if p)


def _dotted(node: ast.AST) -> str | None:
  """`config.a.b` -> "a.b" (None for anything that is not an attribute chain on a name)."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.insert(0, node.attr)
    node = node.value
  return ".".join(parts) if isinstance(node, ast.Name) and parts else None


def _is_dict_call(node: ast.AST) -> bool:
  if not isinstance(node, ast.Call):
    return False
  func = node.func
  name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
  return name in ("dict", "ConfigDict")


def _scan(path: str, into: _Sources) -> ast.Module:
  with open(path) as f:
    text = f.read()
  tree = ast.parse(text, filename=path)
  comments = _comments_by_line(text)
  # An assignment under `if` (a smoke branch) explains that branch, not the key.
  conditional = {id(n) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                 for n in ast.walk(branch)}
  for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and id(node) not in conditional:
      # A multi-line assignment's last line ends with the comment of its last argument.
      trailing = (_trailing(comments, node.lineno, node.col_offset)
                  if node.lineno == node.end_lineno else "")
      comment = trailing or _above(comments, node.lineno)
      for target in node.targets:
        key = _dotted(target)
        if key and comment:
          into.assigned.setdefault(key, comment)
    elif _is_dict_call(node) and node.keywords:
      into.literals.append({kw.arg: _trailing(comments, kw.value.end_lineno, kw.col_offset)
                            for kw in node.keywords if kw.arg})
  return tree


_REPO_PACKAGES = ("bioacoustics_jax", "experiments", "launch")


def _local_imports(tree: ast.Module) -> Iterable[str]:
  """Files of this repository that `tree` imports from (third-party modules are skipped)."""
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names.append(node.module)
      names += [f"{node.module}.{a.name}" for a in node.names]
    elif isinstance(node, ast.Import):
      names += [a.name for a in node.names]
  for name in names:
    if name.partition(".")[0] not in _REPO_PACKAGES:
      continue  # find_spec imports parent packages: never run third-party code (torchvision...)
    try:
      spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, TypeError):
      continue
    origin = getattr(spec, "origin", None) if spec else None
    if origin and origin.endswith(".py") and origin.startswith(_REPO_ROOT + os.sep):
      yield origin


def read_sources(config_path: str) -> _Sources:
  """Comments of the config module and of the repository modules it imports, recursively."""
  sources = _Sources(assigned={}, literals=[])
  if _REPO_ROOT not in sys.path:  # find_spec must see experiments/ and bioacoustics_jax/
    sys.path.insert(0, _REPO_ROOT)
  todo, seen = [os.path.abspath(config_path)], set()
  while todo:
    path = todo.pop(0)
    if path in seen:
      continue
    seen.add(path)
    tree = _scan(path, sources)
    todo += [p for p in _local_imports(tree) if p not in seen]
  return sources


def _section_comments(sources: _Sources, keys: set[str]) -> dict[str, str]:
  """Comments from the dict literal whose keywords cover `keys` best (most shared, fewest extra)."""
  best, score = {}, (0, 0)
  for literal in sources.literals:
    shared = len(keys & set(literal))
    candidate = (shared, -len(set(literal) - keys))
    if shared and candidate > score:
      best, score = literal, candidate
  return best


def _format(value: Any) -> str:
  return repr(tuple(value)) if isinstance(value, list) else repr(value)


def describe(config: ml_collections.ConfigDict, config_path: str) -> str:
  """Every key of `config` as `key = value  # comment`, sections as `[key]  # comment` headers."""
  sources = read_sources(config_path.partition(":")[0])
  lines = [f"# {config_path}: every key, its value, and its comment in the config source.",
           "# Override any of them with --config.<key>=<value>."]

  def walk(node: ml_collections.ConfigDict, prefix: str) -> None:
    literal = _section_comments(sources, set(node.keys()))
    for key in node.keys():
      path = prefix + key
      # The definition's comment first: an assignment in the config module may only explain an
      # override (`config.evaluate.reducers = ...  # UMAP's compile is slow` in a smoke branch).
      comment = literal.get(key) or sources.assigned.get(path, "")
      suffix = f"  # {comment}" if comment else ""
      value = node[key]
      if isinstance(value, ml_collections.ConfigDict):
        if value.keys():
          lines.append(f"[{path}]{suffix}")
          walk(value, path + ".")
          continue
        value = {}  # an empty section (e.g. no model overrides) is a leaf
      lines.append(f"{path} = {_format(value)}{suffix}")

  walk(config, "")
  return "\n".join(lines) + "\n"


def arg_keys(config_path: str) -> list[tuple[str, str]]:
  """[(key, default)] of the `parse_arg(arg, key=default, ...)` call in get_config.

  A default written as a module constant (`models=PAPER_MODELS`) is shown with its value, read by
  loading the config module (cheap: config modules only build ConfigDicts).
  """
  path = config_path.partition(":")[0]
  with open(path) as f:
    tree = ast.parse(f.read())
  module = None
  for node in ast.walk(tree):
    if isinstance(node, ast.FunctionDef) and node.name == "get_config":
      for call in ast.walk(node):
        if isinstance(call, ast.Call) and _callee(call).endswith("parse_arg"):
          out = []
          for kw in (k for k in call.keywords if k.arg):
            text = ast.unparse(kw.value)
            if isinstance(kw.value, ast.Name):
              module = module or config_loader.load_module(path)
              text = repr(getattr(module, kw.value.id, text))
            out.append((kw.arg, text))
          return out
  return []


def _callee(call: ast.Call) -> str:
  func = call.func
  return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def arg_help(config_path: str) -> str:
  """The :arg keys of a config and its docstring, for `--help` with `--config=PATH`."""
  path = config_path.partition(":")[0]
  if not os.path.exists(path):
    return f"\n--config={config_path}: no such file.\n"
  with open(path) as f:
    doc = ast.get_docstring(ast.parse(f.read())) or ""
  keys = arg_keys(path)
  lines = ["", f"Config {path}"]
  if keys:
    lines += [f"  :arg keys ({path}:key=value,key2=a+b; tuples join with '+'), with defaults:"]
    lines += [f"    {key} = {default}" for key, default in keys]
  else:
    lines += ["  takes no :arg keys."]
  lines += ["", "  " + doc.replace("\n", "\n  ") if doc else "",
            f"  Every config key: python -m launch.run --config={config_path} --print_config", ""]
  # absl formats the usage text with %, so a literal % in a docstring must be doubled.
  return "\n".join(lines).replace("%", "%%")


def config_arg(argv: Iterable[str]) -> str | None:
  """The value of --config in `argv` (either `--config=X` or `--config X`), else None."""
  argv = list(argv)
  for i, item in enumerate(argv):
    if item.startswith("--config="):
      return item.split("=", 1)[1]
    if item == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return None


def usage(doc: str, argv: Iterable[str]) -> str:
  """`doc` plus the config's :arg help when `argv` asks for help and names a config."""
  argv = list(argv)
  path = config_arg(argv)
  if path and any(a in HELP_FLAGS for a in argv):
    return (doc or "") + arg_help(path)
  return doc
