"""bioacoustics_jax: which model represents animal sounds best, frozen or fine-tuned?"""

__version__ = "0.1.0"
