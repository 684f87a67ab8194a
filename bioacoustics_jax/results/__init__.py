"""The results store: results.csv and probes.csv, written by runs and sweeps while they run.

    from bioacoustics_jax.results import store
    store.append_rows(path, rows)    # under a file lock; a row with the same key replaces the old
    rows = store.read_results(path)  # numbers parsed, NaN for a missing score

Design. A results row is the one shared type between the rooms that make numbers and the
rooms that read them: the evaluator (evaluate/) fills the scores, the run adds the cell's
identity and speed, the store appends it, report/ and launch/sweeps/ read it. So the store sits
below all of them and imports only paths.py: report/ imports results/, never the reverse, and
results/ knows nothing of how a number was made. The files are the interface: a report can be
rebuilt from them alone, long after the run.
"""
