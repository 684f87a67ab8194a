"""Sweeps on Ray Tune: a config module's `sweep(add, arg)` -> trials -> one aggregate report.

  plan.py       expand, resolve and validate every trial (content-hash ids), no Ray, no JAX
  checks.py     model x data compatibility of every trial (e.g. a clip shorter than a window)
  ledger.py     the sweep's files: trial specs and statuses, written atomically
  trial.py      one trial, run inside a Ray worker (or directly): both splits, status, errors
  engine.py     Ray: a local loopback-only instance or a cluster address; the Tuner
  aggregate.py  sweep_results.csv, sweep_report.md and the --status table
  driver.py     one invocation: plan -> checks -> trial files -> shared data -> Ray -> reports

launch/sweep.py is the absl front end over these.
"""
