"""Independent PyTorch definitions of the reference models, for parity tests and porting.

Each builder imports torch lazily (after `bioacoustics_jax.torch_compat`), so importing the
zoo never needs torch.
"""
