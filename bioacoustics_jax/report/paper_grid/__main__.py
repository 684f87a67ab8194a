"""`python -m bioacoustics_jax.report.paper_grid RESULTS.csv ... --out=DIR` (see document.py)."""

from bioacoustics_jax.report.paper_grid import document

if __name__ == "__main__":
  document.main()
