"""Data order as a function of (seed, epoch): any epoch's shuffle can be replayed on resume
without tf.data iterator state, and the JAX and PyTorch trainers see the same order."""


def epoch_seed(seed: int, epoch: int) -> int:
  """The shuffle seed of `epoch` for a run seeded with `seed`."""
  return (int(seed) * 1_000_003 + int(epoch)) % (2**31 - 1)
