"""The house's structure, checked: no import cycles, no imports up or across the layers of
DESIGN.md, one family imported per resolved model, no torch in a JAX-only run.

Imports are read as text (ast), lazy ones inside functions included, the way
../shared/tools/import_cycles.py reads them.
"""

import ast
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from bioacoustics_jax.zoo import presets

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("bioacoustics_jax", "launch", "experiments")
FORBIDDEN = (  # (importer prefix, imported prefix)
    ("bioacoustics_jax.models", "bioacoustics_jax.porting"),
    ("bioacoustics_jax.porting", "bioacoustics_jax.models"),
    ("bioacoustics_jax.", "bioacoustics_jax.experiment"),
    ("bioacoustics_jax.evaluate", "bioacoustics_jax.train"),
    ("bioacoustics_jax.report", "bioacoustics_jax.train"),
    # The data flows one way: cells hand evaluation their embeddings and never see a score.
    ("bioacoustics_jax.cells", "bioacoustics_jax.report"),
    ("bioacoustics_jax.cells", "bioacoustics_jax.evaluate"),
    ("bioacoustics_jax.evaluate", "bioacoustics_jax.cells"),
    ("bioacoustics_jax.cells", "bioacoustics_jax.grid"),
    # The results store and its schema sit below report/ and evaluate/: written by runs and
    # sweeps, read by reports; the evaluator fills rows of the schema and never writes the store.
    ("bioacoustics_jax.results", "bioacoustics_jax.report"),
    ("bioacoustics_jax.results", "bioacoustics_jax.evaluate"),
    ("bioacoustics_jax.evaluate", "bioacoustics_jax.results.store"),
    ("bioacoustics_jax.evaluate", "bioacoustics_jax.report"),
)
# The entry points that may run an experiment: launch.run (and a sweep's trial), the perf scripts.
EXPERIMENT_CALLERS = ("launch.run", "launch.sweeps.trial", "experiments.perf.")


def _modules() -> dict[str, pathlib.Path]:
  out = {}
  for package in PACKAGES:
    for path in (ROOT / package).rglob("*.py"):
      parts = list(path.relative_to(ROOT).with_suffix("").parts)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      out[".".join(parts)] = path
  return out


def _imports(name: str, path: pathlib.Path, known: dict) -> set[str]:
  """Project modules that `name` imports (from-imports resolved to the deepest known module)."""
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    targets = []
    if isinstance(node, ast.Import):
      targets = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      targets = [f"{base}.{a.name}" for a in node.names] + [base]
    for target in targets:
      while target and target not in known:
        target = target.rpartition(".")[0]
      if target and target != name and known[target].name != "__init__.py":
        found.add(target)
        break
  return found


def _graph():
  known = _modules()
  return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on, out = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in graph[v]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      group = []
      while True:
        w = stack.pop()
        on.discard(w)
        group.append(w)
        if w == v:
          break
      if len(group) > 1:
        out.append(sorted(group))

  for v in graph:
    if v not in index:
      visit(v)
  return out


def test_the_cycle_finder_finds_a_cycle():
  assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
  assert _cycles(_graph()) == []


def test_no_imports_across_the_layers():
  breaks = [f"{a} -> {b}" for a, targets in _graph().items() for b in targets
            for importer, imported in FORBIDDEN
            if a.startswith(importer) and b.startswith(imported)]
  assert breaks == []


def test_models_import_only_flax_and_their_own_layers():
  graph = _graph()
  for name, targets in graph.items():
    if name.startswith("bioacoustics_jax.models."):
      outside = [t for t in targets if not t.startswith("bioacoustics_jax.models.")]
      assert not outside, (name, outside)


def test_a_preset_names_one_family_and_families_do_not_import_each_other():
  graph = _graph()
  families = {p.module.partition(":")[0] for p in presets.PRESETS}
  for family in families:
    others = graph[family] & (families - {family})
    assert not others, f"{family} imports other families {sorted(others)}"


def _run(code: str) -> str:
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("XLA_FLAGS", None)
  result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_resolving_one_model_imports_only_its_family():
  out = _run("""
      import sys
      import jax
      from bioacoustics_jax import zoo
      backbone = zoo.resolve("rn18", {"width": 4})
      backbone.init_variables(jax.random.key(0))
      print(sorted(m for m in sys.modules if m.startswith("bioacoustics_jax.models.")))
      print("torch" in sys.modules)
  """).splitlines()
  assert out[-2] == ("['bioacoustics_jax.models.initialize', 'bioacoustics_jax.models.resnet', "
                     "'bioacoustics_jax.models.stem', "
                     "'bioacoustics_jax.models.torch_compatible_layers']")
  assert out[-1] == "False"


def test_a_jax_only_run_never_imports_torch(tmp_path):
  """The smoke quickstart end to end, UMAP included (umap-learn imports torch when it can)."""
  out = _run(f"""
      import sys
      from launch import cpu_defaults
      cpu_defaults.apply()
      from bioacoustics_jax import experiment
      # TF (tf.data) is imported without Keras 3 (bioacoustics_jax/tf_compat.py); UMAP imports
      # Keras itself later, for its parametric variant.
      tf_keras = ("tensorflow" in sys.modules, "keras" in sys.modules)
      from experiments.configs import quickstart
      config = quickstart.get_config("smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("umap",)
        config.evaluate.clusterers = ("kmeans",)
      experiment.run_experiment(config, {str(tmp_path)!r})
      print(sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))))
      print(tf_keras)
  """)
  assert out.splitlines()[-2] == "[]"
  assert out.splitlines()[-1] == "(True, False)"
  assert (tmp_path / "report.md").exists()


def test_only_entry_points_import_the_experiment():
  importers = sorted(a for a, targets in _graph().items()
                     if "bioacoustics_jax.experiment" in targets)
  assert importers and all(a.startswith(EXPERIMENT_CALLERS) for a in importers), importers


def test_the_cell_key_reads_the_same_import_graph():
  """The cell key's code (bioacoustics_jax/source_code.py, which also follows packages'
  __init__ files) sees every import this test's reader sees: two readers, one graph."""
  from bioacoustics_jax import source_code  # pylint: disable=g-import-not-at-top
  ours = {a: t for a, t in _graph().items() if a.startswith("bioacoustics_jax")}
  theirs = source_code.graph()
  assert set(ours) <= set(theirs)
  for name, targets in ours.items():
    missing = {t for t in targets if t.startswith("bioacoustics_jax")} - theirs[name][1]
    assert not missing, (name, sorted(missing))


def _package_imports(name: str, path: pathlib.Path, known: dict) -> set[str]:
  """Like _imports, but a package's __init__ counts too (`from bioacoustics_jax import results`
  imports the results package): the edges _imports leaves out for the cycle check."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and not node.level:
      found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names}
  return {t for t in found if t in known and t != name}


def test_the_results_store_imports_only_paths_and_report_reads_it():
  known = _modules()
  for name, path in known.items():
    targets = _package_imports(name, path, known)
    if name.startswith("bioacoustics_jax.results"):
      outside = {t for t in targets if t.startswith("bioacoustics_jax")
                 and not t.startswith("bioacoustics_jax.results")} - {"bioacoustics_jax.paths"}
      assert not outside, f"{name} imports {sorted(outside)}; the store sits below them all"
    if name.startswith("bioacoustics_jax.evaluate"):
      results = {t for t in targets if t.startswith("bioacoustics_jax.results")}
      assert results <= {"bioacoustics_jax.results.schema"}, (name, sorted(results))
  readers = {n for n, p in known.items() if n.startswith("bioacoustics_jax.report")
             and any(t.startswith("bioacoustics_jax.results")
                     for t in _package_imports(n, p, known))}
  assert readers, "report/ reads results.csv through bioacoustics_jax.results"


def test_the_evaluator_fills_the_schema_columns_the_run_does_not():
  from bioacoustics_jax.evaluate import evaluator, probe_evaluator  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.results import schema  # pylint: disable=g-import-not-at-top
  assert evaluator.ROW_KEYS is schema.EVALUATOR_COLUMNS
  assert probe_evaluator.PROBE_ROW_KEYS is schema.PROBE_EVALUATOR_COLUMNS
  assert set(schema.EVALUATOR_COLUMNS) | set(schema.CELL_COLUMNS) == set(schema.RESULT_COLUMNS)
  assert not set(schema.EVALUATOR_COLUMNS) & set(schema.CELL_COLUMNS)


def _string_literals(tree) -> list[tuple[frozenset, int]]:
  """(set of strings, line) of every tuple/list/set literal made only of string constants."""
  out = []
  for node in ast.walk(tree):
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
      out.append((frozenset(e.value for e in node.elts), node.lineno))
  return out


def _config_enums() -> dict[str, tuple]:
  """The values config_checks.py allows for each single-choice key, evaluated in its own
  namespace: the _TRAIN_ENUMS table and the third argument of every _one_of call. A literal
  there (a copy of the owner's list) is a failure of its own. (_all_of keys such as regimes
  are sets a config picks from; a config writing out all of them is a value, not a copy.)"""
  from bioacoustics_jax import config_checks  # pylint: disable=g-import-not-at-top
  path = ROOT / "bioacoustics_jax" / "config_checks.py"
  enums = {f"train.{k}": v for k, v in config_checks._TRAIN_ENUMS.items()}  # pylint: disable=protected-access
  for node in ast.walk(ast.parse(path.read_text())):
    if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_one_of"
        and len(node.args) == 3 and isinstance(node.args[0], ast.Constant)):
      allowed = node.args[2]
      assert not _string_literals(allowed), (
          f"config_checks.py:{node.lineno} copies the values of {node.args[0].value}; import "
          "them from the module that owns them")
      enums[node.args[0].value] = eval(compile(ast.Expression(allowed), str(path), "eval"),  # pylint: disable=eval-used
                                       vars(config_checks))
  return enums


def test_every_config_enum_has_one_home_and_no_copies():
  """config_checks imports every enum from the module that owns it, and no other module writes
  the same list out again (as `x in ("auto", "bf16", "off")` or an error message's tuple)."""
  from bioacoustics_jax import dtypes  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import config as train_config  # pylint: disable=g-import-not-at-top
  enums = _config_enums()
  assert enums["train.mixed_precision"] is dtypes.MIXED_PRECISION
  assert enums["embed.dtype"] is dtypes.EMBED_DTYPES
  assert enums["train.parallel"] is data_parallel.MODES
  assert enums["train.frontend_batch"] is train_config.FRONTEND_BATCH
  wanted = {frozenset(v): k for k, v in enums.items()
            if isinstance(v, (tuple, list)) and all(isinstance(x, str) for x in v)}
  # The bf16-on-accelerators rule: its backends are written once too.
  wanted[frozenset(dtypes.ACCELERATORS)] = "dtypes.ACCELERATORS"
  seen: dict[str, list[str]] = {}
  for path in _modules().values():
    for values, line in _string_literals(ast.parse(path.read_text())):
      if values in wanted:
        seen.setdefault(wanted[values], []).append(f"{path.relative_to(ROOT)}:{line}")
  copies = {k: v for k, v in seen.items() if len(v) > 1}
  assert not copies, f"enum values written out in more than one place: {copies}"


def _hand_rolled_registries(source: str) -> set[str]:
  """Module-level dicts used as a registry without the Registry type: written into by a
  function (register), or looked up by one that raises KeyError for a name not in it."""
  tree = ast.parse(source)
  dicts = set()
  for node in tree.body:
    target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
        node.target if isinstance(node, ast.AnnAssign) else None)
    value = getattr(node, "value", None)
    if isinstance(target, ast.Name) and (isinstance(value, ast.Dict) or isinstance(
        value, ast.Call) and getattr(value.func, "id", "") == "dict"):
      dicts.add(target.id)
  found = set()
  for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
    for node in ast.walk(fn):
      # Written by a register function (a memo cache filled by a lookup is not a registry).
      if isinstance(node, ast.Assign) and fn.name.startswith("register"):
        found |= {t.value.id for t in node.targets if isinstance(t, ast.Subscript)
                  and isinstance(t.value, ast.Name) and t.value.id in dicts}
      if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
          and isinstance(node.test.ops[0], ast.NotIn)
          and isinstance(node.test.comparators[0], ast.Name)
          and node.test.comparators[0].id in dicts
          and any(isinstance(r, ast.Raise) and isinstance(r.exc, ast.Call)
                  and getattr(r.exc.func, "id", "") == "KeyError" for r in ast.walk(node))):
        found.add(node.test.comparators[0].id)
  return found


def test_the_registry_finder_finds_hand_rolled_registries():
  assert _hand_rolled_registries(textwrap.dedent("""
      _THINGS = {}
      def register(name, fn):
        _THINGS[name] = fn
      _MEMO = {}
      def digest(key):
        if key not in _MEMO:
          _MEMO[key] = len(key)
        return _MEMO[key]
      TABLE: dict = dict(a=1)
      def get(name):
        if name not in TABLE:
          raise KeyError(f"unknown {name}")
        return TABLE[name]
  """)) == {"_THINGS", "TABLE"}


def test_every_registry_is_the_one_registry_type():
  from bioacoustics_jax import registry  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.audio import recipes  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate import cluster, reduce  # pylint: disable=g-import-not-at-top
  found = {f"{name}: {sorted(names)}" for name, path in _modules().items()
           if (names := _hand_rolled_registries(path.read_text()))}
  assert not found, f"registries not built on bioacoustics_jax.registry.Registry: {found}"
  for table in (cluster.CLUSTERERS, reduce.REDUCERS, recipes.registry.RECIPES):
    assert isinstance(table, registry.Registry) and len(table) > 1
