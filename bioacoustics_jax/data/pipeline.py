"""The data API the rest of the suite calls: `open_split(...)` -> `SplitData.dataset(...)`.

    split = open_split("synth_birds", "train", data_root="/tmp/synth")
    for batch in split.numpy_batches(batch_size=32, sample_rate=16000):
      batch["audio"]  # float32 [32, T]; batch["label"], batch["mask"], batch["id"]

open_split prepares the tfds data on first use and reuses it afterwards; the builder config name
carries a fingerprint of the source, so regenerated data is prepared afresh instead of read stale.
Everything written goes under `cache_dir` (the experiment passes `<workdir>/cache` or
`data.cache_dir`), never into the data folder, so read-only data works. Without a cache_dir the
tfds data goes to `<dataset folder>/_tfds` when that folder is writable (the synthetic suite),
else to $BIOACOUSTICS_JAX_CACHE or ~/.cache/bioacoustics_jax.

A dataset is a folder with dataset.json, a BEANS name, or any layout own_data.py understands (a
folder of label sub-folders, a csv, Raven tables, ...): `open_split("birds", "all", data_root=D)`
opens D/birds whatever its layout. Input checks found while preparing (labels merged, audio
peak-normalised, resampled, truncated, cropped, ...) are in `SplitData.warnings`.

Batches: "audio" float32 [B, T] at `sample_rate` (T = round(clip_seconds * rate)), "label" int32
[B] (classification) or float32 [B, C] multi-hot (detection), "mask" bool [B] (False on padding),
"id" bytes [B]. Evaluation batches are padded to a full batch, and every process gets the same
number of batches, so jitted consumers compile once and multi-host collectives never wait on a
process that has run out of data. Training batches (train=True) are shuffled with a seed that the
trainer derives from (seed, epoch), so any epoch replays exactly on resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import io
import logging
import math
import os
import time
from typing import Any, Iterator

import numpy as np

from bioacoustics_jax import tf_compat  # noqa: F401  (imports TF without Keras 3)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import tensorflow_datasets as tfds

from bioacoustics_jax import paths
from bioacoustics_jax.audio import io as audio_io
from bioacoustics_jax.data import builders
from bioacoustics_jax.data import catalog
from bioacoustics_jax.data import rules as rules_lib
from bioacoustics_jax.data import sources
from bioacoustics_jax.data.builders import base

_log = logging.getLogger(__name__)

# tf.data must never take accelerator memory from JAX. This fails only when TF has already
# initialised its devices, in which case whoever did that made the choice.
try:
  tf.config.set_visible_devices([], "GPU")
except (RuntimeError, ValueError):  # pragma: no cover
  pass

ALL = "all"  # tfds's union of every split of a dataset
_SHUFFLE_BYTES = 1 << 30  # shuffle buffer budget: the whole split when it fits in ~1 GB
# Resolving a name is sources.py's; these two are asked of pipeline by cells, axes and sweeps.
resolve_source = sources.resolve_source
default_cache_dir = sources.default_cache_dir


def _default_process() -> tuple[int, int]:
  import jax  # pylint: disable=g-import-not-at-top  (only the process layout is needed)
  return jax.process_index(), jax.process_count()


@dataclasses.dataclass
class SplitData:
  """One prepared split of one dataset.

  Attributes:
    info: the dataset's DatasetInfo.
    split: "train", "valid" or "test".
    num_examples: examples in the split (detection: windows), over all processes.
    skipped: bad audio files left out of this split [{"path", "reason"}] (skip_bad_audio=True).
    builder: the prepared tfds builder (for tfds-level access).
    warnings: input checks of the dataset and of this split, each {"kind", "count", "files",
      "message"} (builders/checks.py); the message names the files and the fix.
    origin: own data: the layout found and what was inferred (rate, clip); else "".
  """

  info: catalog.DatasetInfo
  split: str
  num_examples: int
  skipped: list[dict[str, str]]
  builder: tfds.core.DatasetBuilder = dataclasses.field(repr=False)
  warnings: list[dict] = dataclasses.field(default_factory=list)
  origin: str = ""

  def _raw(self) -> tf.data.Dataset:
    return self.builder.as_dataset(split=self.split, shuffle_files=False)

  @functools.cached_property
  def labels(self) -> np.ndarray:
    """All labels of the split in order ([N] int or [N, C] multi-hot), read without the audio."""
    ds = self.builder.as_dataset(
        split=self.split, decoders={"audio": tfds.decode.SkipDecoding()}, shuffle_files=False)
    ys = [y for y in ds.map(lambda ex: ex["label"]).batch(4096).as_numpy_iterator()]
    if not ys:
      return np.zeros((0,) if self.info.task == "classification" else (0, self.info.num_classes))
    return np.concatenate(ys)

  def count(self, *, drop_background: bool = False) -> int:
    """Examples in the split (over all processes), without background windows if asked."""
    if drop_background and self.info.task == "detection":
      return int(np.sum(np.any(self.labels > 0, axis=-1)))
    return self.num_examples

  def num_batches(self, batch_size: int, *, drop_background: bool = False,
                  process_count: int | None = None) -> int:
    """Batches per process of one pass over the split."""
    if process_count is None:
      process_count = _default_process()[1]
    per_process = math.ceil(self.count(drop_background=drop_background) / process_count)
    return math.ceil(per_process / batch_size)

  def dataset(self, *, batch_size: int, sample_rate: int | None = None, train: bool = False,
              seed: int = 0, drop_background: bool = False,
              process_index: int | None = None,
              process_count: int | None = None) -> tf.data.Dataset:
    """A tf.data pipeline of batches (see module doc); `batch_size` is per process.

    Args:
      batch_size: examples per batch on this process.
      sample_rate: output rate; None keeps the dataset's own rate.
      train: shuffle (seeded).
      seed: shuffle seed.
      drop_background: leave out all-zero detection windows ("fewer background" setting).
      process_index, process_count: this process's shard (default: jax's); examples are
        sharded before batching so each host reads a disjoint part.
    """
    if batch_size <= 0:
      raise ValueError(f"batch_size must be positive, got {batch_size}")
    if process_index is None or process_count is None:
      default_index, default_count = _default_process()
      process_index = default_index if process_index is None else process_index
      process_count = default_count if process_count is None else process_count
    if not 0 <= process_index < process_count:
      raise ValueError(f"process_index {process_index} outside [0, {process_count})")
    rate = sample_rate or self.info.sample_rate
    if rate != self.info.sample_rate:
      _log.info("%s/%s: resampled %d -> %d Hz per example on every pass; open_split(..., "
                "sample_rate=%d) prepares it once at that rate", self.info.name, self.split,
                self.info.sample_rate, rate, rate)
    num_samples = self.info.num_samples(rate)
    detection = self.info.task == "detection"

    ds = self._raw()
    if drop_background and detection:
      ds = ds.filter(lambda ex: tf.reduce_any(ex["label"] > 0))
    ds = ds.shard(process_count, process_index)
    if train:
      example_bytes = 2 * self.info.num_samples() + 64
      buffer = max(16, min(self.num_examples, _SHUFFLE_BYTES // example_bytes))
      ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(functools.partial(_to_float, from_rate=self.info.sample_rate, to_rate=rate,
                                  num_samples=num_samples, detection=detection),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(functools.partial(_pad_batch, batch_size=batch_size))
    # Equal batch counts on every process: top up with fully masked batches.
    steps = self.num_batches(batch_size, drop_background=drop_background,
                             process_count=process_count)
    empty = _empty_batch(batch_size, num_samples, self.info)
    ds = ds.concatenate(tf.data.Dataset.from_tensors(empty).repeat()).take(steps)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_OPTIONS)

  def numpy_batches(self, **kwargs: Any) -> Iterator[dict[str, np.ndarray]]:
    """The same batches as `dataset(**kwargs)`, as dicts of numpy arrays."""
    return self.dataset(**kwargs).as_numpy_iterator()


# tf.data's autotuning is off: deleting an iterator waited for its optimisation thread, 1.5-3.9 s
# in 3 of 5 runs after a 1,000-clip extraction (a stall on every split and every training epoch),
# and on 2 cores the pipeline ran no faster with it (0.43 s for those 1,000 clips at the
# dataset rate, 2.6 s resampled to 16 kHz, either way). AUTOTUNE parallelism then means one
# call per core, and prefetch keeps its own buffer sizing.
_OPTIONS = tf.data.Options()
_OPTIONS.autotune.enabled = False


def _resample_np(x: np.ndarray, from_rate: int, to_rate: int, num_samples: int) -> np.ndarray:
  return audio_io.fit_length(audio_io.resample(x, from_rate, to_rate), num_samples)


def _to_float(ex: dict[str, tf.Tensor], *, from_rate: int, to_rate: int, num_samples: int,
              detection: bool) -> dict[str, tf.Tensor]:
  audio = tf.cast(ex["audio"], tf.float32) / base.INT16_SCALE
  if to_rate != from_rate:
    audio = tf.numpy_function(
        functools.partial(_resample_np, from_rate=from_rate, to_rate=to_rate,
                          num_samples=num_samples),
        [audio], tf.float32, stateful=False)
    audio = tf.ensure_shape(audio, [num_samples])
  label = tf.cast(ex["label"], tf.float32 if detection else tf.int32)
  return {"audio": audio, "label": label, "mask": tf.constant(True), "id": ex["id"]}


def _pad_batch(batch: dict[str, tf.Tensor], *, batch_size: int) -> dict[str, tf.Tensor]:
  """Zero rows (mask False) up to batch_size, so every batch has one static shape."""
  missing = batch_size - tf.shape(batch["mask"])[0]
  out = {}
  for key, value in batch.items():
    pad = [[0, missing]] + [[0, 0]] * (len(value.shape) - 1)
    out[key] = tf.pad(value, pad)  # zeros, False and b"" for the padding rows
    out[key] = tf.ensure_shape(out[key], [batch_size] + value.shape[1:])
  return out


def _empty_batch(batch_size: int, num_samples: int, info: catalog.DatasetInfo) -> dict:
  if info.task == "detection":
    label = tf.zeros([batch_size, info.num_classes], tf.float32)
  else:
    label = tf.zeros([batch_size], tf.int32)
  return {"audio": tf.zeros([batch_size, num_samples], tf.float32), "label": label,
          "mask": tf.zeros([batch_size], tf.bool), "id": tf.fill([batch_size], "")}


def prepare(dataset: str, *, data_root: str, skip_bad_audio: bool = False,
            tfds_dir: str | None = None, downmix: bool = True,
            resample_mismatched: bool = True, cache_dir: str | None = None,
            channel: int | None = None, long_files: str = "crop",
            sample_rate: int | None = None, clip_seconds: float | None = None,
            shift_seconds: float | None = None, seed: int = 0, class_order: str = "sorted",
            window_rule: str = "cover_tail", overlap_tolerance: float = 1e-9,
            rules: rules_lib.InputRules | None = None,
            only_split: str | None = None) -> tfds.core.DatasetBuilder:
  """Builds (once) and returns the tfds builder of `dataset` under `data_root`: of its split
  `only_split` alone, or of every split (None).

  Args (beyond open_split's): see `open_split`.

  Raises:
    ValueError: `only_split` is not a split of the dataset.
  """
  source = resolve_source(dataset, data_root=data_root, cache_dir=cache_dir,
                          sample_rate=sample_rate, clip_seconds=clip_seconds,
                          shift_seconds=shift_seconds, seed=seed, class_order=class_order,
                          skip_bad_audio=skip_bad_audio, rules=rules)
  config = base.make_config(source, skip_bad_audio=skip_bad_audio, downmix=downmix,
                            resample_mismatched=resample_mismatched, channel=channel,
                            long_files=long_files, window_rule=window_rule,
                            overlap_tolerance=overlap_tolerance, only_split=only_split)
  builder_cls = builders.BUILDERS[source.format]
  offered = builder_cls.offered_splits(source)
  if only_split is not None and only_split not in offered:
    raise ValueError(f"dataset {dataset!r} has no split {only_split!r}; it has "
                     f"{sorted(offered)} (and {ALL!r}, their union)")
  data_dir = tfds_dir or sources.tfds_dir(source, cache_dir)
  tfds.display_progress_bar(False)  # per-example progress bars drown the run's own log
  if paths.is_uri(data_dir):  # gs://: tfds writes there itself; no file locks on a bucket
    return _prepare_at_uri(lambda: builder_cls(config=config, data_dir=data_dir))
  with _prepare_lock(data_dir):
    builder = builder_cls(config=config, data_dir=data_dir)
    with _printed_to_log():
      builder.download_and_prepare()
  return builder


@contextlib.contextmanager
def _printed_to_log() -> Iterator[None]:
  """tfds prints "Downloading and preparing dataset ..." and "... prepared" to stdout, for
  every split it prepares: those lines go to the log instead of a run's console."""
  printed = io.StringIO()
  try:
    with contextlib.redirect_stdout(printed):
      yield
  finally:
    for line in printed.getvalue().splitlines():
      if line.strip():
        _log.info("tfds: %s", line.strip())


# How long a host other than process 0 waits for process 0 to prepare a dataset at a URI.
PREPARE_WAIT_ENV = "BIOACOUSTICS_PREPARE_TIMEOUT"


def _prepare_at_uri(make_builder) -> tfds.core.DatasetBuilder:
  """Process 0 prepares; the other processes (which open the same datasets in the same cells)
  wait until the prepared data is there, then read it."""
  import jax  # pylint: disable=g-import-not-at-top
  builder = make_builder()
  if jax.process_index() == 0:
    with _printed_to_log():
      builder.download_and_prepare()
    return builder
  wait = float(os.environ.get(PREPARE_WAIT_ENV, "3600"))
  deadline = time.monotonic() + wait
  while not builder.is_prepared():
    if time.monotonic() > deadline:
      raise TimeoutError(f"Process {jax.process_index()} waited {wait:.0f} s for process 0 to "
                         f"prepare {builder.data_dir}; see process 0's log ({PREPARE_WAIT_ENV} "
                         "sets the wait).")
    time.sleep(2)
  return make_builder()  # reads the prepared dataset's info


@contextlib.contextmanager
def _prepare_lock(data_dir: str):
  """One preparer at a time per local data_dir (hosts sharing a disk, parallel test workers);
  the others wait, then find the data prepared and just read it."""
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, ".prepare.lock"), "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def open_split(dataset: str, split: str, *, data_root: str, skip_bad_audio: bool = False,
               tfds_dir: str | None = None, downmix: bool = True,
               resample_mismatched: bool = True, cache_dir: str | None = None,
               channel: int | None = None, long_files: str = "crop",
               sample_rate: int | None = None, clip_seconds: float | None = None,
               shift_seconds: float | None = None, seed: int = 0, class_order: str = "sorted",
               window_rule: str = "cover_tail", overlap_tolerance: float = 1e-9,
               rules: rules_lib.InputRules | None = None) -> SplitData:
  """Opens one split of a dataset (synthetic suite folder, BEANS folder or own recordings),
  preparing that split alone the first time (`all`: every split).

  Args:
    dataset, data_root: the dataset is `data_root/dataset` (see module doc).
    split: "train", "valid", "test", or "all" (own data: every file).
    skip_bad_audio: skip and list bad files instead of failing on the first.
    tfds_dir: where the prepared tfds data goes (default: `<cache_dir>/tfds`).
    downmix, resample_mismatched: False makes multi-channel / other-rate files bad audio.
    cache_dir: where everything written goes (see module doc).
    channel: take this channel of multi-channel files instead of averaging.
    long_files: "crop" or "split" classification files longer than the clip.
    sample_rate, clip_seconds, shift_seconds: override the dataset's (or the inferred) values.
    seed: seed of the split made for own data without splits.
    class_order, window_rule, overlap_tolerance: the paper-mode switches ("beans", "beans",
      0.0 reproduce BEANS; catalog.resolve and windows.py say what each changes).
    rules: labels, duplicate files, empty label folders (rules.py; default InputRules()).

  Raises:
    FileNotFoundError: unknown dataset or missing BEANS folder (the message says what to get).
    audio_io.AudioError: a bad audio file while preparing, unless skip_bad_audio=True.
    ValueError: a split the dataset does not have, or malformed annotations.
  """
  builder = prepare(dataset, data_root=data_root, skip_bad_audio=skip_bad_audio,
                    tfds_dir=tfds_dir, downmix=downmix, resample_mismatched=resample_mismatched,
                    cache_dir=cache_dir, channel=channel, long_files=long_files,
                    sample_rate=sample_rate, clip_seconds=clip_seconds,
                    shift_seconds=shift_seconds, seed=seed, class_order=class_order,
                    window_rule=window_rule, overlap_tolerance=overlap_tolerance, rules=rules,
                    only_split=None if split == ALL else split)
  splits = builder.info.splits
  if split not in splits and split != ALL:
    raise ValueError(f"dataset {dataset!r} has no split {split!r}; it has {sorted(splits)} "
                     f"(and {ALL!r}, their union)")
  names = sorted(splits) if split == ALL else [split]
  skipped = builder.info.metadata.get(base.SKIPPED_KEY, {})
  found = builder.info.metadata.get(base.WARNINGS_KEY, {})
  # The dataset's own warnings from this resolve (fresh: files added since preparing count).
  warnings = [dict(w) for w in builder.builder_config.source.warnings] + [
      dict(w) for s in names for w in found.get(s, [])]
  return SplitData(info=builder.builder_config.source.info, split=split,
                   num_examples=sum(int(splits[s].num_examples) for s in names),
                   skipped=[dict(x) for s in names for x in skipped.get(s, [])], builder=builder,
                   warnings=warnings, origin=builder.builder_config.source.origin)


def config_options(data_config: Any, workdir: str) -> dict[str, Any]:
  """open_split keyword arguments from an experiment's `config.data` section.

  Everything written goes under `data.cache_dir`, default `<workdir>/cache`.
  """
  get = data_config.get
  return dict(skip_bad_audio=bool(get("skip_bad_audio", False)),
              cache_dir=get("cache_dir") or os.path.join(workdir, "cache"),
              channel=None if get("channel", -1) in (None, -1) else int(get("channel")),
              long_files=get("long_files") or "crop",
              sample_rate=get("sample_rate") or None, clip_seconds=get("clip_seconds") or None,
              shift_seconds=get("shift_seconds") or None, seed=int(get("split_seed", 0) or 0),
              class_order=get("class_order", "sorted") or "sorted",
              window_rule=get("window_rule", "cover_tail") or "cover_tail",
              overlap_tolerance=float(get("overlap_tolerance", 1e-9)),
              rules=rules_lib.InputRules(labels=get("labels", "merge") or "merge",
                                         duplicates=get("duplicates", "stop") or "stop",
                                         empty_labels=get("empty_labels", "stop") or "stop"))
