"""zoo/init_cache.py: a random init is computed once per (module, key, sample shape, versions,
code) and loaded bitwise-equal by a later call (a fresh Backbone, as in a new run); any other
input is another file; `off` writes nothing."""

import os

import jax
import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.zoo import init_cache


def _equal(a, b):
  same = jax.tree.map(lambda x, y: np.asarray(x).dtype == np.asarray(y).dtype
                      and np.array_equal(np.asarray(x), np.asarray(y)), a, b)
  return jax.tree.structure(a) == jax.tree.structure(b) and jax.tree.all(same)


def test_a_second_run_loads_the_same_variables(tmp_path, monkeypatch):
  monkeypatch.setenv(init_cache.ENV, str(tmp_path / "init"))
  overrides = {"hidden": 8, "num_classes": 3}
  backbone = zoo.resolve("alexnet", overrides)
  sample = backbone.sample_input(8000)
  fresh = init_cache.init_variables(backbone, jax.random.key(0), sample)
  files = os.listdir(tmp_path / "init")
  assert len(files) == 1 and files[0].startswith("alexnet-")
  again = init_cache.init_variables(zoo.resolve("alexnet", overrides), jax.random.key(0), sample)
  assert os.listdir(tmp_path / "init") == files
  assert _equal(fresh, again)
  # Another seed, another override, another sample shape: another key each.
  other = zoo.resolve("alexnet", dict(overrides, hidden=16))
  keys = {init_cache.key_of(backbone, jax.random.key(0), sample),
          init_cache.key_of(backbone, jax.random.key(1), sample),
          init_cache.key_of(other, jax.random.key(0), sample),
          init_cache.key_of(backbone, jax.random.key(0), backbone.sample_input(8000, 16000))}
  assert len(keys) == 4


@pytest.mark.slow  # a second init compile (~30 s under load) for a two-line branch
def test_off_writes_nothing(tmp_path, monkeypatch):
  monkeypatch.setenv(init_cache.ENV, "off")
  assert init_cache.cache_dir() is None
  monkeypatch.chdir(tmp_path)
  backbone = zoo.resolve("alexnet", {"hidden": 8, "num_classes": 3})
  init_cache.init_variables(backbone, jax.random.key(0), backbone.sample_input(8000))
  assert os.listdir(tmp_path) == []


def test_source_hash_counts_every_file_of_a_package(tmp_path, monkeypatch):
  """A package's code hash covers its submodules (audio/recipes/ is a package): an edit to any
  one file changes every cell key that names the package."""
  from bioacoustics_jax.source_code import source_hash  # pylint: disable=g-import-not-at-top
  pkg = tmp_path / "hashpkg"
  pkg.mkdir()
  (pkg / "__init__.py").write_text("from hashpkg import inner\n")
  (pkg / "inner.py").write_text("X = 1\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  before = source_hash(("hashpkg",))
  assert source_hash(("hashpkg",)) == before
  (pkg / "inner.py").write_text("X = 2\n")
  assert source_hash(("hashpkg",)) != before
