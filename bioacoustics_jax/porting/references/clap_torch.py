"""transformers' `ClapAudioModelWithProjection` / `ClapModel` built from models/clap.py's
hyper-parameter names, random init (no download)."""

from __future__ import annotations

import bioacoustics_jax.torch_compat  # noqa: F401  (before transformers pulls torchvision in)


def clap_audio_config(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(4, 8, 16, 32),
                      window_size=8, spec_size=256, num_mel_bins=64, patch_size=4,
                      patch_stride=4, mlp_ratio=4.0, projection_dim=512, **unused):
  """`ClapAudioConfig` of the unfused HTS-AT; dropouts 0 so eval and train graphs compare."""
  unused.pop("dtype", None)
  unused.pop("stochastic_depth_prob", None)
  unused.pop("mlp_dropout", None)
  if unused:
    raise TypeError(f"clap_audio_config: unexpected {sorted(unused)}")
  from transformers import ClapAudioConfig  # pylint: disable=g-import-not-at-top
  config = ClapAudioConfig(
      patch_embeds_hidden_size=embed_dim, depths=list(depths),
      num_attention_heads=list(num_heads), window_size=window_size, spec_size=spec_size,
      num_mel_bins=num_mel_bins, patch_size=patch_size, patch_stride=[patch_stride] * 2,
      mlp_ratio=mlp_ratio, projection_dim=projection_dim,
      hidden_size=embed_dim * 2 ** (len(depths) - 1), enable_fusion=False,
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, drop_path_rate=0.0)
  config._attn_implementation = "eager"  # pylint: disable=protected-access
  return config


def transformers_clap_audio(**hparams):
  """`ClapAudioModelWithProjection(ClapAudioConfig(...))`: its state_dict is the audio half of
  the hub's checkpoint (`audio_model.audio_encoder.*`, `audio_projection.*`)."""
  from transformers import ClapAudioModelWithProjection  # pylint: disable=g-import-not-at-top
  return ClapAudioModelWithProjection(clap_audio_config(**hparams))


def transformers_clap(text_hidden=32, text_layers=1, text_heads=2, text_vocab=99, **hparams):
  """A whole `ClapModel` (audio + a small RoBERTa text tower): the layout of the hub's
  laion/clap-htsat-unfused model.safetensors, for porter tests."""
  from transformers import ClapConfig, ClapTextConfig  # pylint: disable=g-import-not-at-top
  from transformers import ClapModel  # pylint: disable=g-import-not-at-top
  audio = clap_audio_config(**hparams)
  text = ClapTextConfig(vocab_size=text_vocab, hidden_size=text_hidden,
                        num_hidden_layers=text_layers, num_attention_heads=text_heads,
                        intermediate_size=2 * text_hidden, max_position_embeddings=40,
                        projection_dim=audio.projection_dim)
  config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(),
                      projection_dim=audio.projection_dim)
  config.audio_config._attn_implementation = "eager"  # pylint: disable=protected-access
  return ClapModel(config)
