"""Which architectures of the zoo have a PyTorch parity test.

Each family's test module adds the architecture names it checks against its PyTorch reference
to `PARITY_TESTED` at import time (e.g. `parity_registry.PARITY_TESTED.update({"swin_s"})`);
tests/zoo/test_presets.py imports every `tests/models/test_*.py` module and then requires
every architecture in the model registry to be in this set.
"""

PARITY_TESTED: set[str] = set()
