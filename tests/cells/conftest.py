"""The baseline tests' fixtures (one tiny synthetic suite, one torch thread), shared with the
cells' tests: the PyTorch cell and the shared init run the same torch code."""

from tests.baselines.conftest import one_torch_thread  # noqa: F401  (fixtures)
from tests.baselines.conftest import tiny_root  # noqa: F401
