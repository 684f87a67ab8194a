"""Import TensorFlow without Keras: tf.data, tfds and tf.io are all the suite asks of TF.

`import tensorflow` (2.16+) eagerly imports Keras 3's optimizers to register them for
SavedModels, and Keras 3 imports pandas, matplotlib, scikit-learn and PIL with them: about a
third of TF's import time here (experiments/perf/results/startup_cpu.md), paid by every run
before its first cell. TF skips that eager import when `TF_USE_LEGACY_KERAS` is set and the
legacy `tf_keras` package is absent (the import is then an ImportError that TF ignores).

Importing this module imports TF that way: the variable is set for the import only and removed
after it, so `tf.keras`, which TF resolves on first use by reading the variable again, still
finds Keras 3 (TensorBoard's hparams plugin uses it: it then costs its import there, once).
Nothing changes when TF is already imported, the variable is set by the user, or tf_keras is
installed. Import this module where TF is imported first (data/pipeline.py, paths.py).
"""

import importlib.util
import os
import sys

ENV = "TF_USE_LEGACY_KERAS"


def _import_tensorflow_without_keras() -> None:
  if "tensorflow" in sys.modules or ENV in os.environ:
    return  # too late, or someone chose
  if importlib.util.find_spec("tf_keras") is not None:
    return  # a user's legacy Keras install: TF would load it instead
  os.environ[ENV] = "1"
  try:
    import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  finally:
    del os.environ[ENV]


_import_tensorflow_without_keras()
