"""Data layer: wav files + labels -> batches of fixed-length float32 audio.

annotations.py (reading csv / Raven tables) and labels.py (canonical label strings) at the
bottom; catalog.py (which datasets exist, their rates and lengths, listing label folders);
own_data.py (a user's recordings in any accepted layout -> manifests); synthetic.py +
synth_calls.py (the built-in suite); windows.py (detection windows and labels); builders/ (tfds,
with checks.py gathering the input-check warnings); pipeline.py (`open_split`, the API the rest of
the suite calls); summary.py (the data section of report.md). Import the submodules directly; this package
imports nothing so that `import bioacoustics_jax.data.windows` stays free of TensorFlow.
"""
