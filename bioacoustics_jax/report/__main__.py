"""Rebuilds report.md and report.html from a workdir, offline: `python -m bioacoustics_jax.report
--workdir=W` (a run: both files, report.md for its latest invocation as the run wrote it; a sweep
directory: report.html over its runs/*/ trials).

Nothing is recomputed: results.csv, views/, train/ and runs/*/run.json are read as the run left
them (see report/html/document.py), so a page can be rebuilt after the code that draws it changed.
"""

from __future__ import annotations

from absl import app
from absl import flags

from bioacoustics_jax.report import rebuild
from bioacoustics_jax.report.markdown import document as markdown

_WORKDIR = flags.DEFINE_string("workdir", None, "A run's or a sweep's workdir.")
_PAPER = flags.DEFINE_string("paper_csv", markdown.PAPER_SCORES,
                             "The paper's scores (\"\" = no comparison).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  for path in rebuild.rebuild(_WORKDIR.value, _PAPER.value):
    print(path)


if __name__ == "__main__":
  app.run(main)
