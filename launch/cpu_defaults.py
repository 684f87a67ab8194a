"""XLA flags that make CPU runs faster, applied before JAX starts unless the user set them.

Measured on a 2-core machine (experiments/perf/results/):
- one XLA CPU device per core (capped at 8, a power of two so batch 32 splits evenly): a single
  CPU device does not keep the cores busy through a conv backward pass; the data-parallel step
  over 2 devices trained ResNet-18 1.31x faster (train_cpu.md).
- YNNPACK fusion off: on by default in this jaxlib's CPU backend, and 20-25% slower here for
  ResNet-50 and VGGish forward passes (models_cpu.md).
Neither flag changes anything on a GPU or TPU run: they only configure the host CPU platform.
"""

import os


def apply() -> None:
  flags = os.environ.get("XLA_FLAGS", "")
  extra = []
  if "xla_force_host_platform_device_count" not in flags:
    cores = os.cpu_count() or 1
    devices = 1 << (min(cores, 8).bit_length() - 1)  # largest power of two <= min(cores, 8)
    extra.append(f"--xla_force_host_platform_device_count={devices}")
  if "xla_cpu_experimental_ynn_fusion_type" not in flags:
    extra.append("--xla_cpu_experimental_ynn_fusion_type=")
  os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()
