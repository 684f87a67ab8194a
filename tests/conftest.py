"""Test-wide set-up: 8 fake CPU devices (real data-parallel code paths), quiet TensorFlow.

Must run before jax is imported anywhere, which is why it lives in the root conftest.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tf.data stays on the CPU even where JAX has an accelerator (see data/pipeline.py).

import bioacoustics_jax.torch_compat  # noqa: E402,F401  (before anything imports torchvision)


import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def highest_matmul_precision():
  """Numbers are compared with PyTorch and sklearn in float32: on a GPU, JAX's default
  matmul/conv precision is TF32 (8 of 10 models then differ from torch by 1e-4 to 3e-3), so
  every test runs at 'highest', the one place that assumption is stated. On CPU it changes
  nothing."""
  with jax.default_matmul_precision("highest"):
    yield


@pytest.fixture
def chromium():
  """Headless Chromium for the report's browser tests; `make test` installs it when absent, so
  its absence is a failure (with the fix), never a skip."""
  from tests.report import browser_check  # pylint: disable=g-import-not-at-top
  path = browser_check.find_chromium()
  if path is None:
    pytest.fail("No Chromium: run `make test` (it installs Debian's chromium when absent) or "
                "`apt-get install -y chromium`.")
  return path
