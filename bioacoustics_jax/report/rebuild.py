"""The rebuild behind `python -m bioacoustics_jax.report --workdir=W` (report/__main__.py), kept
apart from the command line's flags so that tests and other tools can call it."""

from __future__ import annotations

import os

from bioacoustics_jax import paths
from bioacoustics_jax.report.html import document as html
from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.report.markdown import run_report


def rebuild(workdir: str, paper_csv: str | None = markdown.PAPER_SCORES) -> list[str]:
  """Rewrites the workdir's reports as the run wrote them (report.md for a run's latest
  invocation, report.html for a run or a sweep); returns their paths."""
  paper = paper_csv if paper_csv and os.path.exists(paper_csv) else None
  workdir = paths.absolute(workdir)  # as the run names it (the page shows it)
  written = []
  if paths.exists(os.path.join(workdir, "results.csv")):  # a run: its latest invocation's rows
    written.append(run_report.write_run_report(workdir, paper_csv=paper))
  return written + [html.write_html(workdir, paper_csv=paper)]
