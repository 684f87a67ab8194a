"""Extraction: padded rows dropped, sharded over the 8 fake devices, one compile, labels mapped."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bioacoustics_jax.embed import extract as extract_lib


class _Energy(nn.Module):
  """Embedding = [mean, max] of the input per example, through a Dense so variables exist."""

  @nn.compact
  def __call__(self, x, train=False):
    features = jnp.stack([x.mean(-1), x.max(-1)], -1)
    return nn.Dense(2)(features), {"embedding": features, "pre_logits": features}


def _prepare(audio, sample_rate):
  del sample_rate
  return audio * 2.0


def _batches(audio, labels, batch_size):
  for start in range(0, len(audio), batch_size):
    a, l = audio[start:start + batch_size], labels[start:start + batch_size]
    pad = batch_size - len(a)
    yield {"audio": np.pad(a, ((0, pad), (0, 0))), "label": np.pad(l, [(0, pad)] + [(0, 0)] * (l.ndim - 1)),
           "mask": np.arange(batch_size) < len(a),
           "id": np.array([f"f{start + i}".encode() for i in range(batch_size)])}


def test_extract_drops_padding_and_matches_direct_computation():
  devices = jax.local_device_count()  # 8 fake CPU devices here (tests/conftest.py)
  module = _Energy()
  audio = np.random.default_rng(0).normal(size=(21, 50)).astype(np.float32)
  labels = np.arange(21) % 3
  variables = module.init(jax.random.key(0), jnp.zeros((1, 50)))
  embed_fn, sharding = extract_lib.make_embed_fn(module, _prepare, 16000)
  batch_size = extract_lib.batch_size_for_devices(5)
  assert batch_size == -(-5 // devices) * devices and sharding.mesh.shape["data"] == devices
  es = extract_lib.extract(embed_fn, variables, _batches(audio, labels, batch_size),
                           task="classification", class_names=["a", "b", "c"], meta={"m": 1})
  assert len(es) == 21 and es.ids[-1] == "f20" and es.meta["m"] == 1
  expected = np.stack([audio.mean(-1), audio.max(-1)], -1) * 2.0
  np.testing.assert_allclose(es.embeddings, expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(es.labels, labels)
  assert embed_fn._cache_size() == 1  # the padded last batch reused the same compilation


def test_detection_labels_become_background_zero_else_argmax_plus_one():
  module = _Energy()
  audio = np.ones((4, 10), np.float32)
  multi_hot = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
  variables = module.init(jax.random.key(0), jnp.zeros((1, 10)))
  embed_fn, _ = extract_lib.make_embed_fn(module, _prepare, 16000)
  es = extract_lib.extract(embed_fn, variables, _batches(audio, multi_hot, 8),
                           task="detection", class_names=["x", "y"])
  assert es.labels.tolist() == [0, 2, 1, 1]
  assert es.label_names == ["background", "x", "y"]


def test_non_finite_embeddings_name_the_examples():
  module = _Energy()
  audio = np.ones((3, 10), np.float32)
  audio[1, 3] = np.nan
  variables = module.init(jax.random.key(0), jnp.zeros((1, 10)))
  embed_fn, _ = extract_lib.make_embed_fn(module, _prepare, 16000)
  with pytest.raises(FloatingPointError, match="f1"):
    extract_lib.extract(embed_fn, variables, _batches(audio, np.zeros(3, int), 8),
                        task="classification", class_names=["a"])


def test_bfloat16_extraction_is_close_to_float32():
  """embed.dtype=bfloat16 (the GPU/TPU default): bf16 compute, float32 params and output.
  Stated tolerance: relative L2 error of the embedding matrix <= 2e-2 (bf16 keeps 8 bits of
  mantissa; a tiny ResNet-18 accumulates ~1e-2); "auto" is float32 on CPU."""
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  backbone = zoo.resolve("rn18", {"width": 4})
  audio = np.random.default_rng(0).normal(size=(8, 8000)).astype(np.float32)
  variables = backbone.init_variables(jax.random.key(0),
                                      backbone.recipe.prepare(jnp.asarray(audio[:1]), 8000))
  out = {}
  for dtype in ("float32", "bfloat16"):
    module = backbone.training_module(
        cross_replica_bn=False, regularization=False,
        dtype=None if dtype == "float32" else jnp.bfloat16)
    fn, _ = extract_lib.make_embed_fn(module, backbone.recipe.prepare, 8000)
    out[dtype] = np.asarray(fn(extract_lib.place_variables(variables), audio))
  assert out["bfloat16"].dtype == np.float32
  error = np.linalg.norm(out["bfloat16"] - out["float32"]) / np.linalg.norm(out["float32"])
  assert 0 < error <= 2e-2, error
  assert extract_lib.resolve_dtype("auto") == jnp.float32  # CPU


def test_extraction_makes_no_implicit_transfer():
  """The extraction path under jax.transfer_guard("disallow"): variables placed once, every
  batch placed and every result read back explicitly (tests/train/test_transfer_guard.py shows
  the guard refusing a host batch in a step)."""
  module = _Energy()
  audio = np.random.default_rng(1).normal(size=(19, 50)).astype(np.float32)
  variables = jax.device_get(module.init(jax.random.key(0), jnp.zeros((1, 50))))
  embed_fn, _ = extract_lib.make_embed_fn(module, _prepare, 16000)
  batch_size = extract_lib.batch_size_for_devices(8)
  placed = extract_lib.place_variables(variables)
  with jax.transfer_guard("disallow"):
    es = extract_lib.extract(embed_fn, placed, _batches(audio, np.zeros(19, int), batch_size),
                             task="classification", class_names=["a"])
  np.testing.assert_allclose(es.embeddings, np.stack([audio.mean(-1), audio.max(-1)], -1) * 2,
                             rtol=1e-5, atol=1e-6)


def test_every_batch_runs_once_and_speed_is_recorded():
  """The compile time comes from the first batch's wait, not from a second run of it (which was
  a fourth of the forward work at 96 clips); only a one-batch split runs its batch again."""
  module = _Energy()
  audio = np.random.default_rng(2).normal(size=(20, 50)).astype(np.float32)
  variables = extract_lib.place_variables(module.init(jax.random.key(0), jnp.zeros((1, 50))))
  jitted, _ = extract_lib.make_embed_fn(module, _prepare, 16000)
  batch_size = extract_lib.batch_size_for_devices(8)
  for n, calls_expected in ((20, -(-20 // batch_size)), (3, 2)):
    calls = []
    counted = lambda v, a: calls.append(1) or jitted(v, a)  # noqa: E731
    es = extract_lib.extract(counted, variables, _batches(audio[:n], np.zeros(n, int), batch_size),
                             task="classification", class_names=["a"])
    assert len(es) == n and len(calls) == calls_expected
    assert es.meta["extract_examples_per_s"] > 0 and es.meta["extract_compile_s"] >= 0


def test_each_device_prepares_its_rows_with_the_global_batch_maximum():
  # paper_mel3 divides by the batch maximum and runs an STFT. Left to jit's partitioner the FFT
  # was replicated: every device all-gathered the frames and computed the whole batch's STFT.
  # Per device (shard_map) nothing is gathered, and the maximum is still the global batch's.
  from bioacoustics_jax.audio import recipes  # pylint: disable=g-import-not-at-top
  devices = jax.device_count()
  recipe = recipes.get_recipe("paper_mel3")
  rate = 8000
  rng = np.random.default_rng(0)
  # loudness differs by device so that a per-device maximum would give other features
  audio = (rng.normal(size=(devices, 2, rate // 2)) * (1 + np.arange(devices))[:, None, None])
  audio = audio.reshape(2 * devices, -1).astype(np.float32)
  module = _FlatInput(_Energy())
  variables = module.init(jax.random.key(0), jnp.zeros((1, 4)))
  fn, sharding = extract_lib.make_embed_fn(module, recipe.prepare, rate)
  x = jax.device_put(audio, sharding)
  hlo = fn.lower(variables, x).compile().as_text()
  assert "all-gather" not in hlo and "all-reduce" in hlo  # only the scalar maximum crosses
  features = np.asarray(recipe.prepare(jnp.asarray(audio), rate)).reshape(len(audio), -1)
  expected = np.stack([features.mean(-1), features.max(-1)], -1)
  np.testing.assert_allclose(np.asarray(fn(variables, x)), expected, rtol=1e-6, atol=1e-7)
  if devices > 1:  # the first device's rows alone have a smaller maximum
    alone = np.asarray(recipe.prepare(jnp.asarray(audio[:2]), rate)).reshape(2, -1)
    assert not np.allclose(alone.max(-1), expected[:2, 1], rtol=1e-3)


class _FlatInput(nn.Module):
  """Wraps a module that takes [B, F] so that it takes any [B, ...] model input."""
  inner: nn.Module

  def __call__(self, x, train=False):
    return self.inner(x.reshape(x.shape[0], -1), train)
