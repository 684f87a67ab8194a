"""Model x data compatibility of every trial, before any trial starts.

For each distinct (model, its overrides, dataset, clip length, rate) in the sweep: the model is
resolved (unknown ids and missing weights fail here, grid.resolve_models) and its input
recipe is traced on one clip of the dataset at the model's input rate (jax.eval_shape: shapes
only, no compute), so e.g. VGGish on clips shorter than its 0.975 s window is refused with every
trial that has the pair named, instead of failing trial after trial mid-sweep.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

from launch.sweeps.plan import SweepError
from launch.sweeps.plan import Trial


def dataset_clip(config, data_root: str, dataset: str) -> tuple[int, float]:
  """(sample rate, clip or window seconds) of `dataset` as the trial will read it."""
  from bioacoustics_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  data = config.data
  if (config.data.synthetic_size and dataset in synthetic.ROSTER
      and not os.path.isdir(os.path.join(data_root, dataset))):  # not written yet (dry run)
    spec, size = synthetic.ROSTER[dataset], synthetic.SIZES[config.data.synthetic_size]
    clip = spec.clip_seconds * (size.clip_scale if spec.task == "classification" else 1.0)
    return (int(data.get("sample_rate") or spec.sample_rate),
            float(data.get("clip_seconds") or clip))
  options = pipeline.config_options(data, os.path.dirname(data_root))
  source = pipeline.resolve_source(dataset, data_root=data_root, cache_dir=options["cache_dir"],
                                   sample_rate=options["sample_rate"],
                                   clip_seconds=options["clip_seconds"],
                                   shift_seconds=options["shift_seconds"], seed=options["seed"],
                                   skip_bad_audio=options["skip_bad_audio"],
                                   rules=options["rules"])
  return int(source.info.sample_rate), float(source.info.clip_seconds)


def datasets_of(config) -> list[str]:
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  if config.data.datasets:
    return list(config.data.datasets)
  return list(synthetic.ROSTER) if config.data.synthetic_size else []


def check_compatibility(trials: Iterable[Trial], data_root_of) -> int:
  """Raises SweepError naming every incompatible (trial, model, dataset); returns the number of
  distinct pairs checked. `data_root_of(trial)` is where the trial's data lives."""
  from bioacoustics_jax import grid  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.cells.cell import split_model_name  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.porting import load as load_lib  # pylint: disable=g-import-not-at-top
  models_seen: dict[str, dict] = {}
  verdicts: dict[tuple, str] = {}
  problems: dict[str, list[str]] = {}
  missing: dict[str, str] = {}  # model set -> its missing-weights message
  for trial in trials:
    config = trial.config
    mkey = json.dumps([list(config.models), config.model_overrides.to_dict(),
                       config.weights_dir], sort_keys=True, default=str)
    if mkey not in models_seen:
      try:
        models_seen[mkey] = grid.resolve_models(config)
      except load_lib.MissingWeightsError as e:  # named below; the inputs are still checked
        missing[mkey] = str(e)
        models_seen[mkey] = {m: zoo.resolve(split_model_name(m)[1]) for m in config.models}
      except (ValueError, KeyError, FileNotFoundError) as e:
        raise SweepError(f"trial {trial.id} (sweep entry {trial.index}): {e}") from None
    if mkey in missing:
      problems.setdefault(missing[mkey], []).append(trial.id)

    for dataset in datasets_of(config):
      try:
        rate, clip = dataset_clip(config, data_root_of(trial), dataset)
      except (ValueError, KeyError, FileNotFoundError) as e:
        raise SweepError(f"trial {trial.id} (sweep entry {trial.index}): dataset {dataset!r}: "
                         f"{e}") from None
      for model, backbone in models_seen[mkey].items():
        key = (model, json.dumps(backbone.overrides, sort_keys=True, default=str), rate, clip)
        if key not in verdicts:
          verdicts[key] = _verdict(backbone, rate, clip)
        if verdicts[key]:
          problems.setdefault(f"{model} x {dataset} ({clip:g} s clips at {rate} Hz): "
                              f"{verdicts[key]}", []).append(trial.id)
  if problems:
    lines = [f"- {what}\n  trials: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}"
             for what, ids in problems.items()]
    raise SweepError("Trials that cannot run (nothing was run):\n" +
                     "\n".join(lines) + "\nFix: put missing weights where named; drop "
                     "models from the trials whose clips they cannot read, or set "
                     "--config.data.clip_seconds to at least the model's window.")
  return len(verdicts)


def _verdict(backbone, rate: int, clip: float) -> str:
  """"" when the model's recipe takes one clip of the dataset, else the reason."""
  try:
    model_rate = backbone.input_rate(rate)
    backbone.sample_input(rate=rate, num_samples=max(1, int(round(clip * model_rate))))
  except Exception as e:  # pylint: disable=broad-except  (any failure to trace is the answer)
    return f"{type(e).__name__}: {e}".splitlines()[0]
  return ""
