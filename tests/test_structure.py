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
                     "'bioacoustics_jax.models.torch_compatible_layers']")
  assert out[-1] == "False"


def test_a_jax_only_run_never_imports_torch(tmp_path):
  """The smoke quickstart end to end, UMAP included (umap-learn imports torch when it can)."""
  out = _run(f"""
      import sys
      from launch import cpu_defaults
      cpu_defaults.apply()
      from bioacoustics_jax import experiment
      from experiments.configs import quickstart
      config = quickstart.get_config("smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("umap",)
        config.evaluate.clusterers = ("kmeans",)
      experiment.run_experiment(config, {str(tmp_path)!r})
      print(sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))))
  """)
  assert out.splitlines()[-1] == "[]"
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
