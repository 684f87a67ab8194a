"""Data layer: wav files + labels -> batches of fixed-length float32 audio.

catalog.py (which datasets exist, their rates and lengths), synthetic.py + synth_calls.py (the
built-in suite), windows.py (detection windows and labels), builders/ (tfds), pipeline.py
(`open_split`, the API the rest of the suite calls). Import the submodules directly; this package
imports nothing so that `import bioacoustics_jax.data.windows` stays free of TensorFlow.
"""
