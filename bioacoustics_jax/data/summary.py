"""What a run must tell its user about the data: where it came from and every input check.

The last step of the data's way into a report: pipeline.SplitData carries `origin` (own data:
the layout found, the inferred rate and clip) and `warnings` (labels merged, audio
peak-normalised, resampled, truncated, cropped, ...); the experiment keeps both in each embedding
set's meta (`data_origin`, `data_warnings`, `skipped`), and `markdown_section(metas)` turns them
into the "Data" section of report.md, one block per dataset, so nothing done to the data is
only in a log that scrolled by.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable


def log_warnings(meta: dict[str, Any], log: Callable[..., Any]) -> None:
  """Logs a cell's data warnings (prepared data reused from the cache is not re-checked)."""
  for w in meta.get("data_warnings", []):
    log("data check: %s", w["message"])
  skipped = meta.get("skipped", [])
  if skipped:
    names = ", ".join(os.path.basename(s["path"]) for s in skipped[:3])
    log("data check: %s/%s: %d bad audio file(s) skipped (%s%s); each with its reason in "
        "report.md", meta.get("dataset", "?"), meta.get("split", "?"), len(skipped), names,
        " ..." if len(skipped) > 3 else "")


def markdown_section(metas: Iterable[dict[str, Any]]) -> list[str]:
  """report.md lines: per dataset its origin, its warnings and its skipped files."""
  per_dataset: dict[str, dict[str, Any]] = {}
  for meta in metas:
    entry = per_dataset.setdefault(str(meta.get("dataset", "?")),
                                   dict(origin="", warnings={}, skipped={}))
    entry["origin"] = entry["origin"] or meta.get("data_origin", "")
    for w in meta.get("data_warnings", []):
      entry["warnings"].setdefault(w["message"], w)
    for s in meta.get("skipped", []):
      entry["skipped"].setdefault(s["path"], s["reason"])
  if not per_dataset:
    return []
  lines = ["## Data", ""]
  for name, entry in sorted(per_dataset.items()):
    lines.append(f"**{name}**" + (f": {entry['origin']}" if entry["origin"] else ""))
    lines.append("")
    if not entry["warnings"] and not entry["skipped"]:
      lines += ["- input checks: nothing to report", ""]
      continue
    lines += [f"- {w['message']}" for w in entry["warnings"].values()]
    lines += [f"- skipped (bad audio): {p}: {r}" for p, r in entry["skipped"].items()]
    lines.append("")
  return lines


def append_to_report(report_md: str, metas: Iterable[dict[str, Any]]) -> None:
  """Appends the Data section to an existing report.md."""
  lines = markdown_section(metas)
  if lines:
    with open(report_md, "a") as f:
      f.write("\n\n" + "\n".join(lines))
