"""Rebuilds report.md and report.html from a workdir, offline: `python -m bioacoustics_jax.report
--workdir=W` (a run: both files, report.md for its latest invocation as the run wrote it; a sweep
directory: report.html over its runs/*/ trials).

Nothing is recomputed: results.csv, views/, train/ and runs/*/run.json are read as the run left
them (see report/html/document.py), so a page can be rebuilt after the code that draws it changed.
"""

from __future__ import annotations

import os

from absl import app
from absl import flags

from bioacoustics_jax import paths
from bioacoustics_jax.report.html import document as html
from bioacoustics_jax.report.markdown import document as markdown
from bioacoustics_jax.report.markdown import run_report

_WORKDIR = flags.DEFINE_string("workdir", None, "A run's or a sweep's workdir.")
_PAPER = flags.DEFINE_string("paper_csv", markdown.PAPER_SCORES,
                             "The paper's scores (\"\" = no comparison).")
flags.mark_flags_as_required(["workdir"])


def rebuild(workdir: str, paper_csv: str | None = markdown.PAPER_SCORES) -> list[str]:
  """Rewrites the workdir's reports as the run wrote them; returns their paths."""
  paper = paper_csv if paper_csv and os.path.exists(paper_csv) else None
  workdir = paths.absolute(workdir)  # as the run names it (the page shows it)
  written = []
  if paths.exists(os.path.join(workdir, "results.csv")):  # a run: its latest invocation's rows
    written.append(run_report.write_run_report(workdir, paper_csv=paper))
  return written + [html.write_html(workdir, paper_csv=paper)]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  for path in rebuild(_WORKDIR.value, _PAPER.value):
    print(path)


if __name__ == "__main__":
  app.run(main)
