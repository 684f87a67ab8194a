"""Helpers shared by experiment configs: the `path:arg` string and the common config sections."""

from __future__ import annotations

from typing import Any

import ml_collections


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `key=value,key2=a+b` (the part after `config.py:`) over typed `defaults`.

  Values take the type of their default: bools accept true/false/1/0, tuples split on '+'.
  A key with no default is an error that lists the known keys (a typo must never be ignored).
  """
  parsed = dict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep:
      raise ValueError(f"Config arg {item!r} is not key=value; known keys: {sorted(defaults)}")
    if key not in defaults:
      raise ValueError(f"Unknown config arg {key!r}; known keys: {sorted(defaults)}")
    parsed[key] = _coerce(value.strip(), defaults[key], key)
  return ml_collections.ConfigDict(parsed)


def _coerce(value: str, default: Any, key: str) -> Any:
  if isinstance(default, bool):
    if value.lower() not in ("true", "false", "1", "0"):
      raise ValueError(f"Config arg {key}={value!r}: expected true or false")
    return value.lower() in ("true", "1")
  if isinstance(default, tuple):
    return tuple(v for v in value.split("+") if v)
  if isinstance(default, (int, float)) and not isinstance(default, bool):
    return type(default)(value)
  return value


def expand_models(names: tuple[str, ...], sets: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
  """`models=` names: zoo presets and the named sets of `sets` (`bioacoustic`, ...), expanded
  in order, each model once."""
  out = []
  for name in names:
    for model in sets.get(name, (name,)):
      if model not in out:
        out.append(model)
  if not out:
    raise ValueError(f"Config arg models= is empty; give zoo names or sets ({'+'.join(sets)})")
  return tuple(out)


def evaluate_config(**overrides: Any) -> ml_collections.ConfigDict:
  """The evaluator section, passed whole to `ClusteringEvaluator(**config.evaluate)`: every
  setting of the evaluator with its default (the clustering protocol of the paper's notebooks,
  PAPER.md 'Embedding analysis'), so each knob is reachable as --config.evaluate.<key>."""
  from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(ClusteringEvaluator.default_settings())
  config.update(overrides)
  return config


def data_config(**overrides: Any) -> ml_collections.ConfigDict:
  """Where the audio comes from and which split is embedded."""
  config = ml_collections.ConfigDict(dict(
      root="",                # "" = <workdir>/data, where the synthetic suite is written
      synthetic_size="",      # "tiny" | "small" | "full" writes the built-in suite; "" = real data
      synthetic_seed=0,
      datasets=(),            # names under root (BEANS ids, or the synthetic suite's)
      split="test",           # the split whose embeddings are clustered
      skip_bad_audio=False,   # True: skip and list unreadable files instead of failing
      drop_background=False,  # detection: drop all-background windows (the paper's "fewer background")
      cache_dir="",           # all that is written (tfds data, manifests); "" = <workdir>/cache
      sample_rate=0,          # 0 = the dataset's (own data: the most common rate of its files)
      clip_seconds=0.0,       # 0 = the dataset's (own data: median file length; detection 2 s)
      shift_seconds=0.0,      # detection hop; 0 = the dataset's (own data: half a window)
      channel=-1,             # multi-channel files: -1 averages the channels, 0, 1, ... picks one
      long_files="crop",      # files longer than the clip: crop (first clip) | split (all clips)
      split_seed=0,           # own data without splits: seed of the split made per recording
      # BEANS-exact switches (beans_paper.py's paper mode sets "beans", "beans", 0.0):
      class_order="sorted",   # BEANS sets: "sorted" label strings | "beans" (datasets.yml order)
      window_rule="cover_tail",  # detection: "cover_tail" (+1 padded tail window) | "beans"
      overlap_tolerance=1e-9,  # added to the > 0.2 overlap rule; 0.0 = BEANS' raw float compare
      # Input rules (data/rules.py), each said in a warning when it applies:
      labels="merge",         # "merge": case, spacing, 01/1, 2.0/2 variants are one class | "exact"
      duplicates="stop",      # own data: one file under two labels: "stop" | "keep" (multi-label)
      empty_labels="stop",    # own data: a label folder with no usable audio: "stop" | "drop"
  ))
  config.update(overrides)
  return config
