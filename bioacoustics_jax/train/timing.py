"""How fast training runs: throughput for the log lines, and where each epoch's time goes.

Used by train/loop.py. `Throughput` gives steps/s and examples/s (the first step, which
compiles, excluded); `EpochTimer` splits an epoch into its steps (with the input pipeline),
BN recalibration, validation and checkpoint, written as `epoch_time` rows to metrics.jsonl so
the overhead beyond the step is measured where it happens (experiments/perf/small_set_finetune.py
summarises it).
"""

from __future__ import annotations

import statistics
import time


class Throughput:
  """Training speed. `window()`: steps/s and examples/s since the previous call (what each log
  line reports); `overall()`: since the first step finished (its compile time excluded)."""

  def __init__(self, batch_size: int):
    self.batch_size = batch_size
    self.first = self.last = None
    self.total = self.since_last = 0

  def tick(self) -> None:
    now = time.perf_counter()
    if self.first is None:
      self.first = self.last = now
      return
    self.total += 1
    self.since_last += 1

  def _rates(self, steps: int, start: float | None) -> dict[str, float]:
    if not steps or start is None:
      return {}
    sps = steps / max(time.perf_counter() - start, 1e-9)
    return {"steps_per_second": sps, "examples_per_second": sps * self.batch_size}

  def window(self) -> dict[str, float]:
    out = self._rates(self.since_last, self.last)
    self.last, self.since_last = time.perf_counter(), 0
    return out

  def overall(self) -> dict[str, float]:
    return self._rates(self.total, self.first)


class EpochTimer:
  """Wall seconds per epoch phase (steps, recalibrate, validate, checkpoint) for metrics.jsonl:
  what an epoch costs beyond its steps, measured where it happens."""

  def __init__(self):
    self._start = self._mark = time.perf_counter()
    self._phases: dict[str, float] = {}

  def start(self) -> None:
    self._start = self._mark = time.perf_counter()
    self._phases = {}

  def mark(self, name: str) -> None:
    now = time.perf_counter()
    self._phases[name] = self._phases.get(name, 0.0) + now - self._mark
    self._mark = now

  class _Phase:
    def __init__(self, timer, name):
      self.timer, self.name = timer, name

    def __enter__(self):
      self.timer._mark = time.perf_counter()

    def __exit__(self, *exc):
      self.timer.mark(self.name)

  def phase(self, name: str) -> "EpochTimer._Phase":
    return self._Phase(self, name)

  def seconds(self) -> dict[str, float]:
    out = {f"{k}_seconds": round(v, 4) for k, v in self._phases.items()}
    out["epoch_seconds"] = round(time.perf_counter() - self._start, 4)
    return out


def train_speed(epoch_times: list[dict[str, float]], rows_per_epoch: int) -> dict[str, float]:
  """The speed columns of a fine-tuning run (both trainers report through this):
  `train_examples_per_s` = real training rows of an epoch / its steps' seconds, and
  `train_epoch_s` = an epoch's whole wall time (steps, BN recalibration, validation,
  checkpoint); each the median over the epochs after the first (which holds the compile and
  warm-up) when there are several, else the only epoch's."""
  if not epoch_times:
    return {}
  steady = epoch_times[1:] or epoch_times
  steps = statistics.median(e.get("steps_seconds", e["epoch_seconds"]) for e in steady)
  return {"train_examples_per_s": round(rows_per_epoch / max(steps, 1e-9), 3),
          "train_epoch_s": round(statistics.median(e["epoch_seconds"] for e in steady), 4),
          "train_epochs_timed": len(steady)}
