"""Input checks gathered while a split is prepared -> the warnings a user reads in log and report.

The builders hand every file's `audio_io.AudioNote`s and length findings to a `SplitChecks`;
when the split is done, `warnings()` turns them into one warning per kind, each naming the files
(up to MAX_FILES of them) and counting them, so a dataset with 400 resampled files says so once,
not 400 times. Builders store the result in the prepared data's metadata (`"warnings"`), where
`pipeline.SplitData.warnings` reads it back.
"""

from __future__ import annotations

import collections
import os

from bioacoustics_jax import option_syntax

MAX_FILES = 10
SHORT_FRACTION = 0.1  # a file shorter than this fraction of the clip gets a warning


def _names(items: list[tuple[str, str]]) -> str:
  shown = ", ".join(f"{os.path.basename(p)} ({d})" if d else os.path.basename(p)
                    for p, d in items[:MAX_FILES])
  more = len(items) - MAX_FILES
  return shown + (f" and {more} more" if more > 0 else "")


class SplitChecks:
  """What one split's files needed (see module doc)."""

  def __init__(self, dataset: str, split: str, sample_rate: int, clip_seconds: float):
    self.dataset, self.split = dataset, split
    self.sample_rate, self.clip_seconds = sample_rate, clip_seconds
    self._found: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    self._rates: collections.Counter = collections.Counter()
    self._used = [0.0, 0.0]  # seconds used, seconds present (files longer than the clip)
    self._clips_from_long = 0

  def audio_notes(self, path: str, notes) -> None:
    for note in notes:
      if note.kind == "resampled":
        self._rates[int(note.value)] += 1
      self._found[note.kind].append((path, note.detail))

  def length(self, path: str, seconds: float, *, clips: int = 1) -> None:
    """Records a classification file's length against the clip and how many clips it gave."""
    if seconds < SHORT_FRACTION * self.clip_seconds:
      self._found["short"].append((path, f"{seconds:.3g} s"))
    elif seconds > self.clip_seconds + 1e-6:
      used = min(seconds, clips * self.clip_seconds)
      self._used[0] += used
      self._used[1] += seconds
      self._clips_from_long += clips
      self._found["long"].append((path, f"{seconds:.3g} s"))

  def warnings(self, long_files: str) -> list[dict]:
    """One dict per kind found: {"kind", "count", "files", "message"}."""
    out = []
    where = f"{self.dataset}/{self.split}"
    clip = f"{self.clip_seconds:g} s"
    messages = {
        "peak_normalized": "float files with samples beyond [-1, 1] were peak-normalised to 1 "
                           "(not clipped)",
        "downmixed": "multi-channel files were averaged to mono (as BEANS does); set "
                     f"{option_syntax.spell('data.channel', 0)} (or 1, ...) to use one channel",
        "antiphase": "multi-channel files are near silent once their channels are averaged "
                     "(channels in anti-phase); set "
                     f"{option_syntax.spell('data.channel', 0)} (or 1, ...) to use one channel",
        "truncated": "files are shorter than their header says (truncated copy?); they were "
                     "read as far as they go and zero-padded; re-copy them if that is wrong",
        "short": f"files are shorter than {SHORT_FRACTION:.0%} of the {clip} clip and were "
                 f"zero-padded; check them, or set data.clip_seconds",
    }
    for kind, text in messages.items():
      items = self._found.get(kind)
      if items:
        out.append(self._warning(kind, items, f"{where}: {len(items)} {text}: {_names(items)}"))
    items = self._found.get("resampled")
    if items:
      rates = ", ".join(f"{r} Hz x{n}" for r, n in sorted(self._rates.items()))
      out.append(self._warning("resampled", items, (
          f"{where}: {len(items)} files resampled to {self.sample_rate} Hz (rates found: "
          f"{rates}); set data.sample_rate to use another rate: {_names(items)}")))
    items = self._found.get("long")
    if items:
      used = self._used[0] / max(self._used[1], 1e-9)
      if long_files == "split":
        text = (f"{len(items)} files longer than the {clip} clip were cut into "
                f"{self._clips_from_long} clips ({used:.0%} of their audio used)")
      else:
        text = (f"{len(items)} files are longer than the {clip} clip; only their first {clip} "
                f"was used ({used:.0%} of their audio); set "
                f"{option_syntax.spell('data.long_files', 'split')} to cut them into several "
                "clips, or data.clip_seconds")
      out.append(self._warning("long", items, f"{where}: {text}: {_names(items)}",
                               used_fraction=round(used, 4)))
    return out

  def _warning(self, kind: str, items, message: str, **extra) -> dict:
    return dict(kind=kind, count=len(items), files=[p for p, _ in items[:MAX_FILES]],
                message=message, **extra)
