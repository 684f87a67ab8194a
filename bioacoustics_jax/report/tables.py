"""Table helpers shared by the documents: a markdown table (report.md and paper_report.md)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
  """The lines of a GitHub-style markdown table (cells shown with str)."""
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
  return lines
