"""A planted synthetic archive embedded once (MFCC store) for the search and discovery tests."""

import pytest

from bioacoustics_jax.soundscape import archive
from bioacoustics_jax.soundscape import planted
from tests.soundscape.helpers import tiny_config


@pytest.fixture(scope="session")
def archived(tmp_path_factory):
  """3 x 20 s of quiet noise with 18 calls of 3 kinds, one per 1 s window, labelled by a Raven
  table (rec000, rec002) or a csv (rec001) beside the audio, in an MFCC store
  (the handcrafted model: what is tested is search and clustering, not what a random network
  learnt). Returns (audio folder, planted calls, store)."""
  root = tmp_path_factory.mktemp("audio")
  calls = planted.write_archive(str(root), recordings=3, seconds=20, calls_per_recording=6,
                                seed=1, tables="mixed")
  config = tiny_config(root, model="mfcc", overrides={}, sample_rate=16000)
  store = archive.embed_archive(config, str(tmp_path_factory.mktemp("store")))
  return root, calls, store
