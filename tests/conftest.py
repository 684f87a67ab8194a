"""Test-wide set-up: 8 fake CPU devices (real data-parallel code paths), quiet TensorFlow.

Must run before jax is imported anywhere, which is why it lives in the root conftest.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tf.data stays on the CPU even where JAX has an accelerator (see data/pipeline.py).

import bioacoustics_jax.torch_compat  # noqa: E402,F401  (before anything imports torchvision)
