"""report.md: a run's results.csv (and probes.csv) as tables a person reads in a terminal.

    from bioacoustics_jax.report.markdown import document
    document.write_report(results_csv, out_md, paper_csv=document.PAPER_SCORES)

Files: document.py (the sections: NMI and ARI overview, every metric per dataset, ours beside
the paper, probes, notes), framework_pairs.py (each JAX row beside its `torch:` twin, and every
cell's speed).
"""
