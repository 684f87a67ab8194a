"""report.html: one self-contained page per run or sweep, read from the files a run leaves.

    from bioacoustics_jax.report.html import document
    document.write_html(workdir)      # results.csv, views/, train/, runs/*/run.json -> the page

Files: document.py (the page and its sections), score_tables.py (sortable score tables),
figures.py (matplotlib panels as inline images), page_assets.py (the skeleton, style and the
page's small script), views.py (views/<dataset>/<model>/<regime>.npz: what the page's scatters
draw, written by the run beside its results rows).
"""
