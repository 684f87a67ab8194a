"""paper_report.md: the paper's grid (models x datasets x regimes x settings) beside its numbers.

    python -m bioacoustics_jax.report.paper_grid RESULTS.csv [MORE.csv ...] --out=DIR
    from bioacoustics_jax.report.paper_grid import document; document.write_report(csvs, out)

Files: document.py (the document and its command line), grid_rows.py (results rows -> one
score per grid point, seeds averaged), claims.py (the paper's three claims as computed
checks), figures.py (the NMI heatmap and the UMAP grid).
"""
