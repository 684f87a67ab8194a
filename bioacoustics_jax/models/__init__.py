"""Flax backbones, one file per family; Flax modules and their layers only.

Nothing here knows about weights files, porters or PyTorch: the presets table in
bioacoustics_jax/zoo/ names the module each model id builds. Importing this package imports no
family, so resolving one model imports only its own file.
"""
