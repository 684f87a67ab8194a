"""The archive job: every recording under a folder -> windows -> embeddings on every device and
host -> the store (store.py). `python -m launch.embed` calls `embed_archive(config, workdir)`.

Work is whole recordings: the ones already in the store are skipped (a resumed run, a grown
folder), the rest are shared between processes by length (longest first, each to the process
with the least audio so far), and each process streams its recordings' windows into batches of
its local rows. All processes run the same number of batches (the jitted extractor is one
program over every device of every host): a process with fewer windows feeds all-padding
batches. A process commits a shard whenever it has finished recordings holding at least
`archive.shard_rows` windows, and at its end; a killed run loses at most the recordings it had
not committed, and redoes exactly those.

Many independent machines (no jax.distributed between them): `embed_part` is one worker's
share, run as a Ray task by launch/embed_ray.py. The driver creates the store, shares the
pending recordings with the same `share`, and, once every task returned, counts their shards
and writes the manifest (the store's own recovery: store.py); workers only commit shards.

Labels are optional: a csv or Raven table beside a recording labels its windows (labels.py).

Progress (hours of audio done, the rate in audio hours per wall second) goes to the log every
`archive.log_seconds`.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from typing import Any, Iterator

import jax
import ml_collections
import numpy as np
from absl import logging

from bioacoustics_jax import provenance
from bioacoustics_jax.embed import extract as extract_lib
from bioacoustics_jax.parallel import distributed
from bioacoustics_jax.soundscape import embedder as embedder_lib
from bioacoustics_jax.soundscape import labels as labels_lib
from bioacoustics_jax.soundscape import store as store_lib
from bioacoustics_jax.soundscape import windows as windows_lib


def make_embedder(config: ml_collections.ConfigDict,
                  recordings: list[windows_lib.Recording]) -> embedder_lib.WindowEmbedder:
  """The config's model. An any-rate model (paper_mel3) takes archive.sample_rate, else the
  most common rate of the recordings."""
  rate = int(config.archive.sample_rate)
  if not rate:
    rates = collections.Counter(r.sample_rate for r in recordings)
    rate = max(sorted(rates), key=lambda r: rates[r])
  return embedder_lib.get(config.model, overrides=dict(config.model_overrides),
                          weights_dir=config.weights_dir, seed=config.seed,
                          dtype=config.embed.dtype, sample_rate=rate)


def window_spec(config: ml_collections.ConfigDict, rate: int) -> windows_lib.WindowSpec:
  window = float(config.archive.window_seconds)
  return windows_lib.WindowSpec(window, float(config.archive.hop_seconds) or window, rate)


def share(recordings: list[windows_lib.Recording], processes: int) -> list[list]:
  """Recordings per process, balanced by length (longest first to the least loaded process);
  each process's list sorted by name. The same on every process (a pure function)."""
  load, out = [0.0] * processes, [[] for _ in range(processes)]
  for r in sorted(recordings, key=lambda r: (-r.frames / r.sample_rate, r.name)):
    p = min(range(processes), key=lambda i: (load[i], i))
    load[p] += r.seconds
    out[p].append(r)
  return [sorted(rs, key=lambda r: r.name) for rs in out]


@dataclasses.dataclass
class Job:
  """What every process of a run computes alike from the config: the archive's recordings, the
  embedder, the window grid and the settings that key the store."""

  recordings: list[windows_lib.Recording]
  embedder: embedder_lib.WindowEmbedder
  spec: windows_lib.WindowSpec
  settings: dict[str, Any]

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Job":
    recordings = windows_lib.find_recordings(config.archive.root)
    embedder = make_embedder(config, recordings)
    spec = window_spec(config, embedder.rate)
    return cls(recordings, embedder, spec, embedder.settings(spec, int(config.archive.channel)))

  def pending(self, store: store_lib.Store) -> list[windows_lib.Recording]:
    """The recordings not in `store` yet (refusing any that changed since they were stored)."""
    _refuse_changed(store, self.recordings)
    return [r for r in self.recordings if r.name not in store.recordings]


def embed_archive(config: ml_collections.ConfigDict, workdir: str) -> store_lib.Store:
  """Embeds every recording under config.archive.root not yet in the store at `workdir`."""
  start = time.perf_counter()
  job = Job.from_config(config)
  if distributed.is_main():  # creates the store, or recovers it after a killed run
    store_lib.Store.open(workdir, job.settings, create=True, writer=True)
  distributed.barrier("store opened")
  store = store_lib.Store.open(workdir, job.settings)
  pending = job.pending(store)
  mine = share(pending, jax.process_count())[jax.process_index()]
  batch = extract_lib.batch_size_for_devices(int(config.embed.batch_size))
  counts = distributed.all_gather_text("archive windows", str(sum(
      job.spec.count(r.seconds) for r in mine)))
  num_batches = max(-(-int(c) // batch) for c in counts)
  logging.info("Archive %s: %d recordings, %d in the store, %d to embed (%.2f h of audio, "
               "this process %d: %d recordings), %d batches of %d rows per process",
               config.archive.root, len(job.recordings), len(job.recordings) - len(pending),
               len(pending), sum(r.seconds for r in pending) / 3600, jax.process_index(),
               len(mine), num_batches, batch)
  if num_batches:
    _run(job, store, mine, batch, num_batches, config, jax.process_index(),
         keeps_manifest=distributed.is_main())
  distributed.barrier("archive embedded")
  if distributed.is_main():
    store = record_run(workdir, job.settings, config, [r.name for r in pending], start)
  logging.info("Store %s: %d recordings, %d windows (%.1f s)", workdir, len(store.recordings),
               store.num_windows(), time.perf_counter() - start)
  return store


def record_run(workdir: str, settings: dict[str, Any], config: ml_collections.ConfigDict,
               added: list[str], start: float) -> store_lib.Store:
  """Process 0 (or the Ray driver) at the end: counts every writer's shards into the manifest
  (the store's recovery) and appends this run's record (commit, versions, devices, added)."""
  store = store_lib.Store.open(workdir, settings, writer=True)
  store.manifest.setdefault("runs", []).append(dict(
      provenance.git_state(os.path.dirname(os.path.abspath(__file__))),
      versions=provenance.versions(), devices=provenance.devices(),
      root=config.archive.root, added=added, seconds=round(time.perf_counter() - start, 3)))
  store.write_manifest()
  return store


def embed_part(config: ml_collections.ConfigDict, workdir: str, names: list[str],
               part: int) -> list[str]:
  """One independent worker's share (a Ray task): embeds the recordings `names` into the
  store at `workdir` (made by the driver with the same settings, else SettingsMismatch) as
  shards of writer `part`, skipping those already committed (a retried task redoes only what its
  killed try had not committed). Writes no manifest. Returns the names it embedded."""
  job = Job.from_config(config)
  store = store_lib.Store.open(workdir, job.settings)
  store.add_committed_shards()
  wanted = set(names)
  missing = wanted - {r.name for r in job.recordings}
  if missing:
    raise FileNotFoundError(f"Recordings {sorted(missing)[:3]} are not under "
                            f"{config.archive.root} on this worker; every worker must see the "
                            "archive at the same path (a shared or identical mount).")
  mine = [r for r in job.pending(store) if r.name in wanted]
  batch = extract_lib.batch_size_for_devices(int(config.embed.batch_size))
  num_batches = -(-sum(job.spec.count(r.seconds) for r in mine) // batch)
  logging.info("Worker %d: %d of its %d recordings to embed (%.2f h of audio)", part, len(mine),
               len(wanted), sum(r.seconds for r in mine) / 3600)
  if num_batches:
    _run(job, store, mine, batch, num_batches, config, part, keeps_manifest=False)
  return [r.name for r in mine]


def _refuse_changed(store: store_lib.Store, recordings: list[windows_lib.Recording]) -> None:
  for r in recordings:
    done = store.recordings.get(r.name)
    if done is not None and (done["size"] != r.size or done["frames"] != r.frames):
      raise ValueError(f"{r.path} changed after it was embedded into {store.path} (size "
                       f"{done['size']} -> {r.size} bytes): restore it, or give the new version "
                       "another name, or embed into a new --workdir.")


def _batches(embedder, spec, recordings, batch: int, num_batches: int,
             channel: int) -> Iterator[dict[str, Any]]:
  """This process's windows as `num_batches` batches of `batch` rows: audio, mask and, per
  row, the recording index and the window's start/end."""
  rows = spec.window_samples

  def windows():
    for index, r in enumerate(recordings):
      for starts, ends, audio in windows_lib.stream_windows(r, spec, channel=channel):
        for i in range(len(starts)):
          yield index, starts[i], ends[i], audio[i]

  stream = windows()
  for _ in range(num_batches):
    audio = np.zeros((batch, rows), np.float32)
    index = np.full(batch, -1, np.int64)
    starts, ends = np.zeros(batch), np.zeros(batch)
    for i, (rec, s, e, a) in zip(range(batch), stream):
      index[i], starts[i], ends[i], audio[i] = rec, s, e, a
    yield {"audio": audio, "recording": index, "start": starts, "end": ends}


def _run(job, store, recordings, batch, num_batches, config, process: int,
         keeps_manifest: bool) -> None:
  """Embeds `recordings` in `num_batches` batches, committing whole recordings as shards of
  writer `process`; `keeps_manifest`: rewrite the manifest after each commit (process 0)."""
  embedder, spec = job.embedder, job.spec
  expected = [spec.count(r.seconds) for r in recordings]
  shard_rows = max(int(config.archive.shard_rows), 1)
  pending = _Pending(store, recordings, expected, spec.window_seconds, process, keeps_manifest)
  total_hours = sum(r.seconds for r in recordings) / 3600
  start = last_log = time.perf_counter()
  previous = None
  for i, host in enumerate(_batches(embedder, spec, recordings, batch, num_batches,
                                    int(config.archive.channel))):
    out = embedder.dispatch(host["audio"])
    if i == 0:
      out = jax.block_until_ready(out)
    if previous is not None:  # read back the last batch while this one runs
      pending.add(previous[0], embedder.local_rows(previous[1]))
    previous = (host, out)
    if pending.ready_rows() >= shard_rows:
      pending.commit()
    now = time.perf_counter()
    if now - last_log >= float(config.archive.log_seconds):
      last_log = now
      done = pending.done_seconds / 3600
      logging.info("process %d: %.3f of %.3f h of audio embedded, %.4f audio h per wall s",
                   process, done, total_hours, done / (now - start))
  if previous is not None:
    pending.add(previous[0], embedder.local_rows(previous[1]))
  pending.commit()
  if pending.open_recordings():
    raise RuntimeError(f"Windows missing for {pending.open_recordings()[:3]} after the last batch "
                       "(a file shorter than its header says?); nothing of them was stored.")


class _Pending:
  """Rows read back but not yet committed, grouped by recording; whole recordings go to a shard."""

  def __init__(self, store, recordings, expected, window_seconds, process, keeps_manifest):
    self.store, self.recordings, self.expected = store, recordings, expected
    self.window_seconds = window_seconds
    self.process, self.keeps_manifest = process, keeps_manifest
    self.rows: dict[int, list] = collections.defaultdict(list)
    self.finished: list[int] = []
    self.done_seconds = 0.0

  def add(self, host: dict[str, np.ndarray], embeddings: np.ndarray) -> None:
    real = host["recording"] >= 0
    if not np.all(np.isfinite(embeddings[real])):
      bad = sorted({self.recordings[r].name for r, ok in zip(
          host["recording"][real], np.isfinite(embeddings[real]).all(1)) if not ok})
      raise FloatingPointError(f"Non-finite embeddings for windows of {bad[:3]}; check these "
                               "recordings (silence, clipping) and the model weights.")
    for rec, s, e, emb in zip(host["recording"][real], host["start"][real], host["end"][real],
                              embeddings[real]):
      self.rows[int(rec)].append((s, e, emb))
      if len(self.rows[int(rec)]) == self.expected[int(rec)]:
        self.finished.append(int(rec))

  def ready_rows(self) -> int:
    return sum(len(self.rows[r]) for r in self.finished)

  def open_recordings(self) -> list[str]:
    return [self.recordings[r].name for r in self.rows]

  def commit(self) -> None:
    if not self.finished:
      return
    names, starts, ends, embeddings, window_labels, files = [], [], [], [], [], {}
    for r in self.finished:
      rows, rec = self.rows.pop(r), self.recordings[r]
      names += [rec.name] * len(rows)
      starts += [x[0] for x in rows]
      ends += [x[1] for x in rows]
      embeddings += [x[2] for x in rows]
      table = labels_lib.table_for(rec.path)
      window_labels += labels_lib.window_labels(table, np.array([x[0] for x in rows]),
                                                self.window_seconds)
      files[rec.name] = {"path": rec.path, "size": rec.size, "frames": rec.frames,
                         "sample_rate": rec.sample_rate,
                         "seconds": rec.seconds, "windows": len(rows),
                         "labels_table": os.path.basename(table) if table else None}
      self.done_seconds += rec.seconds
    self.finished = []
    self.store.commit(names, np.array(starts), np.array(ends), np.stack(embeddings), files,
                      process=self.process, labels=window_labels)
    if self.keeps_manifest:
      self.store.write_manifest()
