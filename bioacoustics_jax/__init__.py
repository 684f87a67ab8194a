"""bioacoustics_jax: which model represents animal sounds best, frozen or fine-tuned?"""
