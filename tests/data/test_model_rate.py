"""Data at the model's input rate: a cell prepares its split once at the rate the model takes
(the rate is in the tfds builder config and in the data fingerprint, as perch does), so the
tf.data pipeline resamples nothing per example, and the cell key follows the rate."""

import numpy as np
import pytest

from bioacoustics_jax import zoo
from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.cells.cell import Cell

# The tiny HuBERT of tests/models/test_hubert.py: a 16 kHz model on 22.05 kHz synth_birds.
AVES_TINY = dict(conv_layers=((32, 10, 5), (32, 3, 2), (32, 3, 2)), embed_dim=32, num_layers=2,
                 num_heads=4, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)


def _cell(root, model, overrides, **options):
  return Cell(dataset="synth_birds", model=model, regime="frozen",
              backbone=zoo.resolve(model, overrides), cache_dir="/unused", data_root=root,
              data_options=dict(cache_dir=f"{root}/_cache", **options),
              embed_batch_size=8).opened()


def _has_py_function(ds) -> bool:
  graph = ds._as_serialized_graph().numpy()  # pylint: disable=protected-access
  return b"PyFunc" in graph


@pytest.fixture(scope="module", name="cells")
def _cells(tmp_path_factory):
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  root = str(tmp_path_factory.mktemp("rate_suite"))
  synthetic.write_suite(root, size="tiny", seed=0, names=["synth_birds"])
  return _cell(root, "aves", AVES_TINY), _cell(root, "rn18", {"width": 4})


def test_a_16k_model_reads_data_prepared_at_16k(cells):
  aves, _ = cells
  assert aves.source_rate == 22050 and aves.rate == 16000
  assert aves.split.info.sample_rate == 16000
  assert aves.split.builder.builder_config.source.info.sample_rate == 16000
  assert aves.key_inputs["data"]["sample_rate"] == 16000
  for split in ("train", "valid"):
    assert aves.open(split).info.sample_rate == 16000  # fine-tuning reads the same rate


def test_no_per_example_resampling_in_the_pipeline(cells):
  aves, _ = cells
  assert not _has_py_function(aves.split.dataset(batch_size=4, sample_rate=aves.rate))
  # The check can fail: asking the prepared split for another rate resamples per example.
  assert _has_py_function(aves.split.dataset(batch_size=4, sample_rate=8000))


def test_the_audio_is_the_file_resampled_once(cells):
  aves, _ = cells
  batch = next(aves.batches())
  source = aves.split.builder.builder_config.source
  for audio, clip_id in zip(batch["audio"][:3], batch["id"][:3]):
    wav = audio_io.read_audio(source.resolve_audio_path(clip_id.decode()),
                              target_sample_rate=16000).waveform
    want = audio_io.fit_length(wav, audio.shape[-1])
    assert audio.shape[-1] == aves.split.info.num_samples(16000)
    np.testing.assert_allclose(audio, want, atol=2 / 32768)  # int16 storage


def test_native_rate_models_keep_the_dataset_rate_and_a_different_data_identity(cells):
  aves, rn18 = cells
  assert rn18.rate == rn18.split.info.sample_rate == 22050
  assert rn18.key_inputs["data"]["sample_rate"] == 22050  # the rate is part of the data's identity
  assert rn18.split.builder.builder_config.name != aves.split.builder.builder_config.name
  assert rn18.key != aves.key


def test_strict_rate_data_stays_at_its_rate(cells):
  aves, _ = cells
  strict = _cell(aves.data_root, "aves", AVES_TINY, resample_mismatched=False)
  assert strict.rate == 16000 and strict.split.info.sample_rate == 22050
