"""PyTorch baseline extraction: end-to-end parity with the JAX extraction (frontend included)
when both frameworks hold the same weights, labels/ids/masking, and weight-file handling."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.audio import recipes
from bioacoustics_jax.baselines import torch_embed
from bioacoustics_jax.data import pipeline
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.porting import load as load_lib
from bioacoustics_jax.porting import parity
from bioacoustics_jax.porting import perturb
from bioacoustics_jax.porting import torch_to_flax

# A tiny HuBERT whose strided encoder downsamples 80x (the real one: 320x), so the 2 s windows
# become 400 frames and self-attention stays cheap.
HUBERT_TINY = dict(conv_layers=((16, 10, 5), (16, 4, 4), (16, 4, 4)), embed_dim=32,
                   num_layers=2, num_heads=4, ff_dim=64, pos_conv_kernel=16, pos_conv_groups=4)


def _shared_weights(spec, split, overrides):
  """(torch state_dict, Flax module, Flax variables, rate) holding the same random weights.

  Norms and zero-initialised biases are randomised so every ported tensor matters; BatchNorm
  statistics are calibrated on the split's own inputs so that activations stay O(1) and the
  embeddings vary between clips (with fresh stats a random ResNet maps every batch-max-scaled
  mel to nearly the same vector, and a 1e-4 agreement would say little).
  """
  recipe = recipes.get_recipe(spec.recipe)
  rate = recipe.sample_rate or split.info.sample_rate
  sample = np.asarray(recipe.prepare(jnp.zeros((1, split.info.num_samples(rate))), rate))
  first = next(iter(split.numpy_batches(batch_size=16, sample_rate=rate)))
  calibrate = np.asarray(recipe.prepare(first["audio"], rate)) if sample.ndim == 4 else None
  torch_model = spec.torch_reference(**overrides)
  parity.randomize_zero_biases(torch_model, seed=1)
  parity.randomize_norms(torch_model, seed=1, calibrate_on=calibrate)
  if spec.architecture in ("hubert_base", "wavlm_base_plus", "whisper_base", "clap_htsat"):
    torch_model = perturb.perturb_parameters(torch_model, seed=1)
  if spec.architecture == "vit_b_16":
    # At torchvision's init (patch conv std 1/sqrt(fan_in), zero class token) the mostly-dark
    # batch-max mel gives every clip the same embedding to 1e-8; large noise makes them differ.
    torch_model = perturb.perturb_parameters(torch_model, seed=1, scale=0.5)
  module = spec.build(**overrides)
  variables = parity.port_reference(spec, torch_model, module, sample)
  return torch_to_flax.to_numpy_state_dict(torch_model), module, variables, rate


def _jax_set(spec, module, variables, split, rate, batch_size, drop_background=False):
  embed_fn, _ = extract_lib.make_embed_fn(module, recipes.get_recipe(spec.recipe).prepare, rate)
  return extract_lib.extract(
      embed_fn, variables,
      split.numpy_batches(batch_size=batch_size, sample_rate=rate,
                          drop_background=drop_background),
      task=split.info.task, class_names=list(split.info.class_names))


# Whisper at 80 mel bins (the recipe's) with 256-frame windows: the 2 s detection windows'
# 202 frames fit, and the model appends the padding frames itself.
WHISPER_TINY = dict(d_model=32, num_layers=2, num_heads=4, ff_dim=48, max_source_positions=128)

# Classification through paper_mel3 (ResNet, padded last batch), detection through VGGish
# patches, HuBERT and WavLM (transformers' model) on the raw waveform and Whisper on its
# log-mel (background -> 0 labels), ViT and CNN14 (below).
PARITY = [
    ("rn18", "synth_birds", "train", dict(width=8), 16),
    ("vggish", "synth_frogs_detection", "test", dict(width=8, hidden=16), 8),
    ("aves", "synth_frogs_detection", "valid", HUBERT_TINY, 8),
    # The mel resized to 224x224 for the fixed-size ViT; CNN14 on its own torchlibrosa front end
    # (the torch side gets the 32 kHz waveform, the JAX side the panns_logmel recipe).
    ("vit_b_16", "synth_birds", "test", dict(patch_size=32, num_layers=2, num_heads=2,
                                             hidden_dim=16, mlp_dim=32), 8),
    ("cnn14", "synth_birds", "test", dict(width=4), 8),
    ("wavlm_base_plus", "synth_frogs_detection", "valid",
     dict(HUBERT_TINY, num_buckets=32, max_distance=64), 8),
    ("whisper_base", "synth_frogs_detection", "valid", WHISPER_TINY, 8),
    # CLAP: the recipe's 10 s of 48 kHz always make a 256x256 image; 8x8 patches keep it small.
    pytest.param("clap_htsat", "synth_birds", "test",
                 dict(embed_dim=8, depths=(2, 2), num_heads=(2, 2), window_size=8, patch_size=8,
                      patch_stride=8, projection_dim=16), 8, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name,dataset,split_name,overrides,batch_size", PARITY)
def test_torch_baseline_equals_jax_extraction_with_the_same_weights(
    tiny_root, name, dataset, split_name, overrides, batch_size):
  spec = zoo.get_preset(name)
  split = pipeline.open_split(dataset, split_name, data_root=tiny_root)
  state_dict, module, variables, rate = _shared_weights(spec, split, overrides)
  jax_es = _jax_set(spec, module, variables, split, rate, batch_size)
  backbone = torch_embed.build_backbone(zoo.resolve(name, overrides), state_dict=state_dict)
  torch_es = torch_embed.torch_embedding_set(
      backbone, split, batch_size=batch_size, sample_rate=rate, meta={"note": "x"})
  assert len(torch_es) == split.num_examples and torch_es.dim == jax_es.dim
  diff = parity.max_abs_diff(torch_es.embeddings, jax_es.embeddings)
  assert diff <= 1e-4, f"{name}: torch vs JAX embeddings differ by {diff}"
  spread = float(np.std(torch_es.embeddings, axis=0).max())
  assert diff <= 1e-2 * spread, f"{name}: diff {diff} is not small next to the spread {spread}"
  print(f"{name}: torch vs JAX max abs diff {diff:.2e} (largest per-dim std {spread:.3g})")
  np.testing.assert_array_equal(torch_es.labels, jax_es.labels)
  assert torch_es.ids == jax_es.ids and torch_es.label_names == jax_es.label_names
  assert torch_es.meta["framework"] == "torch" and torch_es.meta["note"] == "x"
  if split.info.task == "detection":
    assert torch_es.label_names[0] == "background"


def test_drop_background_keeps_only_labelled_windows(tiny_root):
  split = pipeline.open_split("synth_frogs_detection", "train", data_root=tiny_root)
  backbone = torch_embed.build_backbone(zoo.resolve("rn18", dict(width=4)))
  es = torch_embed.torch_embedding_set(backbone, split, batch_size=4, sample_rate=16000,
                                       drop_background=True)
  assert len(es) == split.count(drop_background=True) < split.num_examples
  assert 0 not in es.labels


def test_random_init_is_seeded():
  a = torch_embed.build_backbone(zoo.resolve("rn18", dict(width=4)), seed=3)
  b = torch_embed.build_backbone(zoo.resolve("rn18", dict(width=4)), seed=3)
  c = torch_embed.build_backbone(zoo.resolve("rn18", dict(width=4)), seed=4)
  assert not a.training
  assert torch.equal(a.reference.conv1.weight, b.reference.conv1.weight)
  assert not torch.equal(a.reference.conv1.weight, c.reference.conv1.weight)


def test_missing_weight_file_is_the_porting_error(tmp_path):
  with pytest.raises(load_lib.MissingWeightsError,
                     match=r"resnet18-f37072fd\.pth.*download\.pytorch\.org"):
    torch_embed.build_backbone(zoo.resolve("rn18p", dict(width=4), weights_dir=tmp_path))


def test_weight_file_is_loaded_into_the_reference(tmp_path):
  spec = zoo.get_preset("rn18p")
  saved = spec.torch_reference(width=4)
  torch.save(saved.state_dict(), tmp_path / spec.weights)
  model = zoo.resolve("rn18p", dict(width=4), weights_dir=tmp_path)
  backbone = torch_embed.build_backbone(model, seed=99)
  for key, value in saved.state_dict().items():
    assert torch.equal(backbone.reference.state_dict()[key], value), key
  # A file for another width names the mismatching tensors instead of loading half of them.
  torch.save(spec.torch_reference(width=8).state_dict(), tmp_path / spec.weights)
  with pytest.raises(ValueError, match=r"shape mismatch.*bn1\.bias: file \(8,\) vs model \(4,\)"):
    torch_embed.build_backbone(zoo.resolve("rn18p", dict(width=4), weights_dir=tmp_path))


def test_every_registered_architecture_has_a_family():
  missing = ({zoo.get_preset(n).architecture for n in zoo.names()
              if zoo.get_preset(n).parity == "torch"} - set(torch_embed.FAMILIES))
  assert not missing, f"no PyTorch baseline for {sorted(missing)}"
  with pytest.raises(KeyError, match="resnet18"):
    torch_embed.family("nope")


AST_TINY = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, max_length=64,
                num_mel_bins=32, frequency_stride=10, time_stride=8)
# Current transformers names -> the names of published (legacy) AST checkpoints.
_AST_LEGACY = (("attention.q_proj.", "attention.attention.query."),
               ("attention.k_proj.", "attention.attention.key."),
               ("attention.v_proj.", "attention.attention.value."),
               ("attention.o_proj.", "attention.output.dense."),
               ("mlp.fc1.", "intermediate.dense."), ("mlp.fc2.", "output.dense."))


def test_published_ast_checkpoint_layout_loads_into_the_reference(tmp_path):
  spec = zoo.get_preset("ast")
  source = spec.torch_reference(**AST_TINY).eval()
  legacy = {}
  for key, value in source.state_dict().items():
    if key.startswith("layers."):
      _, index, rest = key.split(".", 2)
      for new, old in _AST_LEGACY:
        rest = rest.replace(new, old)
      key = f"encoder.layer.{index}.{rest}"
    legacy["audio_spectrogram_transformer." + key] = value
  legacy["classifier.dense.weight"] = torch.zeros(527, 32)  # the AudioSet head, not loaded
  torch.save(legacy, tmp_path / spec.weights)
  backbone = torch_embed.build_backbone(zoo.resolve("ast", AST_TINY, weights_dir=tmp_path))
  x = torch.randn(2, 64, 32)
  with torch.no_grad():
    np.testing.assert_array_equal(backbone(x).numpy(), source(x).pooler_output.numpy())
