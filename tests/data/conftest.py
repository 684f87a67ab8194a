"""Shared fixtures for data tests: one tiny synthetic suite per session (about a second)."""

import pytest

from bioacoustics_jax.data import synthetic


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("synth_tiny"))
  synthetic.write_suite(root, size="tiny", seed=0)
  return root
