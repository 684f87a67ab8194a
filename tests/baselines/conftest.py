"""Shared fixtures for the PyTorch baseline tests: one tiny synthetic suite, one torch thread.

One intra-op thread: on a shared 2-core machine torch's default pool (one thread per core)
spins against the other test processes and a tiny ResNet step takes seconds instead of ~50 ms.
"""

import pytest
import torch

from bioacoustics_jax.data import synthetic


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("baselines_synth_tiny"))
  synthetic.write_suite(root, size="tiny", seed=0)
  return root


@pytest.fixture(autouse=True)
def one_torch_thread():
  before = torch.get_num_threads()
  torch.set_num_threads(1)
  yield
  torch.set_num_threads(before)
