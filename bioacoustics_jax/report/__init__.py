"""Reports: what a run or a sweep left on disk, as documents a person reads.

    report.md         markdown/    document.write_report(results_csv, out_md, paper_csv=...)
    report.html       html/        document.write_html(workdir)
    paper_report.md   paper_grid/  document.write_report(results_csvs, out_dir)
    python -m bioacoustics_jax.report --workdir=W      rebuilds report.md and report.html

Design. Each document is its own folder; they share only what sits here: reference.py (the
paper's numbers, and our rows matched to them), tables.py (the markdown table), seed_spread.py
(a score as "mean ± sd" over the evaluation seeds), probe_rows.py (probes.csv read back),
run_records.py (what runs/*/run.json says: the latest run, failed cells, each fine-tuned cell's
chosen learning rate and best epoch), figures.py
(the per-cell scatter PNGs a run writes into figures/) and tensorboard.py (per-cell scores for
TensorBoard). Reports read the results store (bioacoustics_jax/results/, below this room) and
the files a run wrote (views/, projections/, train/, runs/*/run.json); they never compute a
score and never import train/, so a report can be rebuilt offline after the code that draws it
changed. The browser check of report.html is a test tool (tests/report/browser_check.py).
"""
