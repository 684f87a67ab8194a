"""What the three audio builders share: the run-time BuilderConfig, features, bad-audio policy.

The datasets are not known when the code is written (a user's BEANS folder, a freshly generated
synthetic suite), so no builder has BUILDER_CONFIGS: each run builds a config from a
`catalog.DatasetSource` and passes the instance, `Builder(config=make_config(src), data_dir=d)`;
tfds accepts a config instance it does not know ("custom data configuration").

Staleness: the config name carries the source fingerprint (a hash of the annotation files and
dataset.json) and the bad-audio options, and tfds stores data under
`<data_dir>/<builder>/<config name>/<version>`, so regenerated data or other options get a fresh
directory instead of reusing old prepared data.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

from bioacoustics_jax import console
from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import labels as labels_lib
from bioacoustics_jax.data import windows
from bioacoustics_jax.data.builders import checks as checks_lib

_log = logging.getLogger(__name__)

SKIPPED_KEY = "skipped"  # tfds metadata key: {split: [{"path", "reason"}]}
# tfds metadata key: {split or "*" (the whole dataset): [{"kind", "count", "files", "message"}]}
WARNINGS_KEY = "warnings"
LONG_FILES = ("crop", "split")
INT16_SCALE = 32768.0  # soundfile reads PCM_16 as int/32768, so this round-trips 16-bit wavs


@dataclasses.dataclass(eq=False, kw_only=True, repr=False)
class AudioBuilderConfig(tfds.core.BuilderConfig):
  """One dataset, from one source folder, with one bad-audio policy.

  Attributes:
    source: where the files are and what the dataset is (catalog.resolve gives it).
    skip_bad_audio: False: the first bad file stops the build with an AudioError naming it.
      True: bad files are skipped and listed, per split, in the prepared data's metadata
      (`builder.info.metadata["skipped"]`), never silently.
    downmix: average multi-channel files to mono (BEANS does); False makes them bad audio.
    resample_mismatched: resample files at another rate to the dataset rate (BEANS does); False
      makes them bad audio.
    channel: use this channel of multi-channel files instead of averaging them (None).
    long_files: classification files longer than the clip: "crop" keeps the first clip (BEANS
      does), "split" cuts them into consecutive clips (a last piece shorter than half a clip is
      dropped unless it is the only one). Either way the warnings say how much audio was used.
    window_rule: detection window count, "cover_tail" or "beans" (windows.py).
    overlap_tolerance: added to the 0.2 overlap threshold; 0.0 compares like BEANS (windows.py).
    only_split: prepare this split alone (None: every split of the source). A run prepares
      the splits its cells read and no other: a frozen cell reads only its evaluated split.
  """

  source: catalog.DatasetSource | None = None
  skip_bad_audio: bool = False
  downmix: bool = True
  resample_mismatched: bool = True
  channel: int | None = None
  long_files: str = "crop"
  window_rule: str = "cover_tail"
  overlap_tolerance: float = 1e-9
  only_split: str | None = None

  def __repr__(self) -> str:
    # tfds logs the config of every custom build; the name says all that matters (dataset,
    # fingerprint, options), the full DatasetSource would flood the log.
    root = self.source.root if self.source else None
    return f"AudioBuilderConfig(name={self.name!r}, source={root!r})"


def make_config(source: catalog.DatasetSource, *, skip_bad_audio: bool = False,
                downmix: bool = True, resample_mismatched: bool = True,
                channel: int | None = None, long_files: str = "crop",
                window_rule: str = "cover_tail", overlap_tolerance: float = 1e-9,
                only_split: str | None = None) -> AudioBuilderConfig:
  """A config whose name changes whenever the data or the options change (see module doc)."""
  if long_files not in LONG_FILES:
    raise ValueError(f"data.long_files must be one of {LONG_FILES}, got {long_files!r}")
  if channel is not None and int(channel) < 0:
    raise ValueError(f"data.channel must be >= 0 (or unset to average), got {channel}")
  flags = ("-skipbad" if skip_bad_audio else "") + ("" if downmix else "-nodownmix") + (
      "" if resample_mismatched else "-exactrate") + (
      "" if channel is None else f"-ch{int(channel)}") + (
      "" if long_files == "crop" else f"-long{long_files}") + (
      "" if window_rule == "cover_tail" else f"-win{window_rule}") + (
      "" if overlap_tolerance == 1e-9 else f"-tol{overlap_tolerance:g}") + (
      "" if only_split is None else f"-only-{_safe(only_split)}")
  if source.info.task == "detection" and window_rule not in windows.WINDOW_RULES:
    raise ValueError(f"data.window_rule must be one of {windows.WINDOW_RULES}, got "
                     f"{window_rule!r}")
  name = f"{_safe(source.info.name)}-{source.fingerprint}{flags}"
  return AudioBuilderConfig(
      name=name, description=f"{source.info.name} from {source.root}", source=source,
      skip_bad_audio=skip_bad_audio, downmix=downmix, resample_mismatched=resample_mismatched,
      channel=None if channel is None else int(channel), long_files=long_files,
      window_rule=window_rule, overlap_tolerance=float(overlap_tolerance),
      only_split=only_split)


def _safe(name: str) -> str:
  """tfds config names allow letters, digits, `-`, `_` and `.` only."""
  return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)


def to_int16(x: np.ndarray) -> np.ndarray:
  return np.clip(np.round(x * INT16_SCALE), -32768, 32767).astype(np.int16)


def class_index(source: catalog.DatasetSource, label: Any, where: str) -> int:
  """Index of a label among the source's classes, matched by its label rule (labels.py);
  labels outside the list go to the unknown class if there is one."""
  names = source.info.class_names
  index = labels_lib.index_of(label, names, source.labels)
  if index is not None:
    return index
  label = labels_lib.canonical(label)
  if source.unknown_label is not None:
    return names.index(labels_lib.canonical(source.unknown_label))
  raise ValueError(f"{where}: label {label!r} is not one of the {len(names)} classes of "
                   f"{source.info.name} ({', '.join(names[:10])}...); fix the annotation "
                   f"or add it to class_names in dataset.json")


class AudioBuilderBase(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared machinery; subclasses implement `_split_generators` / `_generate_examples`."""

  @property
  def source(self) -> catalog.DatasetSource:
    cfg = self.builder_config
    if not isinstance(cfg, AudioBuilderConfig) or cfg.source is None:
      raise ValueError(
          f"{self.name} needs a run-time config: {type(self).__name__}("
          "config=base.make_config(catalog.resolve(name, data_root)), data_dir=...)")
    return cfg.source

  def _label_feature(self) -> tfds.features.FeatureConnector:
    raise NotImplementedError

  def _info(self) -> tfds.core.DatasetInfo:
    info = self.source.info
    return self.dataset_info_from_configs(
        description=f"{info.name}: {info.task}, {info.sample_rate} Hz, {info.clip_seconds} s "
                    f"examples, {info.num_classes} classes.",
        features=tfds.features.FeaturesDict({
            # int16 halves the prepared size; pipeline.py turns it back into float32.
            "audio": tfds.features.Tensor(shape=(info.num_samples(),), dtype=np.int16,
                                          encoding=tfds.features.Encoding.BYTES),
            "label": self._label_feature(),
            "id": tfds.features.Text(),
        }),
        supervised_keys=("audio", "label"),
        # Examples keep the annotation-file order: reproducible, and the pipeline shuffles anyway.
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict({
            SKIPPED_KEY: {}, WARNINGS_KEY: {"*": [dict(w) for w in self.source.warnings]}}),
    )

  def checks(self, split: str) -> checks_lib.SplitChecks:
    """This split's input checks (created on first use, stored when the split is done)."""
    if not hasattr(self, "_checks"):
      self._checks = {}
    if split not in self._checks:
      info = self.source.info
      self._checks[split] = checks_lib.SplitChecks(info.name, split, info.sample_rate,
                                                   info.clip_seconds)
    return self._checks[split]

  def load(self, path: str, split: str) -> np.ndarray | None:
    """The waveform at the dataset rate, or None when it is bad and skip_bad_audio is on."""
    cfg = self.builder_config
    rate = self.source.info.sample_rate
    try:
      loaded = audio_io.read_audio(
          path, downmix=cfg.downmix, channel=cfg.channel,
          target_sample_rate=rate if cfg.resample_mismatched else None,
          expected_sample_rate=None if cfg.resample_mismatched else rate)
      self.checks(split).audio_notes(path, loaded.notes)
      return loaded.waveform
    except audio_io.AudioError as e:
      if not cfg.skip_bad_audio:
        raise
      # One line per file in the log; the console's one line per split: data/summary.py.
      _log.warning("skipping bad audio in %s/%s: %s", self.source.info.name, split, e,
                   extra=console.LOG_ONLY)
      skipped = self.info.metadata[SKIPPED_KEY].setdefault(split, [])
      skipped.append({"path": e.path, "reason": e.reason})
      return None

  def clips(self, wav: np.ndarray, path: str, split: str) -> list[tuple[float, np.ndarray]]:
    """(start in seconds, int16 clip) of one classification file, per `long_files`."""
    info = self.source.info
    n = info.num_samples()
    long_files = self.builder_config.long_files
    starts = [0]
    if long_files == "split" and len(wav) > n:
      starts = list(range(0, len(wav), n))
      if len(starts) > 1 and len(wav) - starts[-1] < n // 2:
        starts.pop()  # a tail shorter than half a clip would be mostly padding
    self.checks(split).length(path, len(wav) / info.sample_rate, clips=len(starts))
    return [(i / info.sample_rate, to_int16(audio_io.fit_length(wav[i:i + n], n)))
            for i in starts]

  def class_index(self, label: Any, where: str) -> int:
    return class_index(self.source, label, where)

  @classmethod
  def split_labels(cls, path: str) -> list[str]:
    """The raw labels of one split's annotations (its file or folder), without its audio."""
    raise NotImplementedError(f"{cls.__name__} has no per-clip class labels")

  @classmethod
  def offered_splits(cls, source: catalog.DatasetSource) -> dict[str, str]:
    """{split: its annotation file or folder} this builder can prepare from `source` (default:
    all of the source's)."""
    return dict(source.split_files)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing is downloaded: the data is already on disk
    only = self.builder_config.only_split
    return {split: self._checked(split, path)
            for split, path in self.offered_splits(self.source).items()
            if only is None or split == only}

  def _checked(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The split's examples; once they are all out, its warnings go into the metadata."""
    count = 0
    for key, example in self._generate_examples(split=split, path=path):
      count += 1
      yield key, example
    if not count:  # tfds would fail with a bare "No examples were yielded"
      skipped = self.info.metadata[SKIPPED_KEY].get(split, [])
      raise ValueError(
          f"{self.source.info.name}/{split}: no examples left ({path}; {len(skipped)} files "
          f"skipped as bad audio: {', '.join(s['path'] for s in skipped[:5])}). Fix: repair or "
          "remove those files, or give the split other files")
    found = self.checks(split).warnings(self.builder_config.long_files)
    for w in found:
      _log.warning("%s", w["message"])
    self.info.metadata[WARNINGS_KEY][split] = found

  def _generate_examples(self, split: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    raise NotImplementedError
