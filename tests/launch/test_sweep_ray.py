"""Sweeps on a real local Ray (num_cpus=2, no dashboard) running the real run_experiment on the
tiny synthetic bats set: failures recorded, re-runs skip, edits reuse, shared embeddings, a
killed trial resumes. One Ray session for the module; every test is slow (Ray and the trial
processes' imports cost tens of seconds here)."""

import csv
import glob
import json
import os
import signal
import textwrap
import threading
import time

import pytest

from launch.sweeps import driver
from launch.sweeps import engine
from launch.sweeps import ledger

pytestmark = pytest.mark.slow

HEAD = textwrap.dedent('''
    """Tiny sweep for tests."""
    from experiments.configs import quickstart

    def get_config(arg=None):
      config = quickstart.get_config(arg or "smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("pca",)
        config.evaluate.clusterers = ("kmeans",)
        config.evaluate.probes = ()
      return config
    ''')

SIX = HEAD + textwrap.dedent('''
    def sweep(add):
      for lr in LRS:                             # frozen: one cell, embedded once
        add({"train.learning_rates": (lr,)})
      add({"evaluate.pca_dim": 3})               # evaluation only: no re-embedding
      add({"embed.batch_size": 8})               # another cell
      add(seed=7)                                # another cell (random init)
      add({"data.split": "nope"})                # fails at run time: no such split
    ''')


@pytest.fixture(scope="module")
def ray_local():
  engine.start(num_cpus=2)
  import ray  # pylint: disable=g-import-not-at-top
  yield ray
  engine.stop()


def _statuses(workdir, plan):
  return {t.id: ledger.read_status(workdir, t.id) for t in plan.trials}


def test_local_ray_listens_on_loopback_only(ray_local):
  """Every port the local Ray's processes (GCS, raylet, workers, agents) listen on is
  loopback, and no dashboard (so no job-submission API) is among them."""
  import psutil  # pylint: disable=g-import-not-at-top
  assert ray_local.get_runtime_context().gcs_address.startswith("127.0.0.1:")
  listening = [(p.name(), c.laddr) for p in psutil.Process().children(recursive=True)
               for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
  assert listening and all(a.ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1")
                           for _, a in listening), listening
  assert not any("dashboard" in name for name, _ in listening)


def test_six_trials_failure_rerun_edit_and_shared_embeddings(ray_local, tmp_path):
  cfg, workdir = tmp_path / "six.py", str(tmp_path / "sweep")
  cfg.write_text(SIX.replace("LRS", "(1e-3, 1e-2)"))
  plan = driver.run_sweep(str(cfg), workdir, max_retries=0)
  assert len(plan.trials) == 6
  st = _statuses(workdir, plan)
  assert sorted(s["status"] for s in st.values()) == ["failed"] + ["ok"] * 5
  (bad,) = [t for t in plan.trials if st[t.id]["status"] == "failed"]
  assert bad.config.data.split == "nope" and "no split 'nope'" in st[bad.id]["error"]
  assert "Traceback" in st[bad.id]["traceback"]
  with open(os.path.join(workdir, "sweep_results.csv")) as f:
    rows = list(csv.DictReader(f))
  swept = ["train.learning_rates", "evaluate.pca_dim", "embed.batch_size", "seed", "data.split"]
  assert list(rows[0])[2:7] == swept
  assert {r["train.learning_rates"] for r in rows} == {"[0.001]", "[0.01]"}
  assert {r["split"] for r in rows if r["trial_status"] == "ok"} == {"valid", "test"}
  report = open(os.path.join(workdir, "sweep_report.md")).read()
  assert "6 trials: 5 ok, 1 failed" in report and "| synth_bats | rn18 | frozen |" in report

  # Shared work: the two lr trials and the evaluation-only one are one frozen cell per split,
  # computed once over all three (counted from the trials' own logs) and loaded otherwise.
  lr_trials = [t for t in plan.trials if t.overrides.keys() <= {"train.learning_rates",
                                                                  "evaluate.pca_dim"}]
  assert len(lr_trials) == 3
  computed = sum((st[t.id]["cells"]["computed"] for t in lr_trials), [])
  loaded = sum((st[t.id]["cells"]["loaded"] for t in lr_trials), [])
  assert len(computed) == 2 and len(set(computed)) == 2  # valid + test, once each
  assert sorted(loaded) == sorted(computed * 2)
  assert len(glob.glob(os.path.join(workdir, "shared", "cells", "embeddings", "synth_bats",
                                    "rn18", "frozen-*.npz"))) == 6  # 3 cells x 2 splits

  # Re-run: nothing runs (the failure is not retried unless asked).
  before = {tid: s["attempts"] for tid, s in _statuses(workdir, plan).items()}
  driver.run_sweep(str(cfg), workdir, max_retries=0)
  assert {tid: s["attempts"] for tid, s in _statuses(workdir, plan).items()} == before

  # Edited sweep (an lr added in front): old trials keep their ids and are not re-run; the new
  # one only loads the shared frozen cells.
  cfg.write_text(SIX.replace("LRS", "(1e-4, 1e-3, 1e-2)"))
  edited = driver.run_sweep(str(cfg), workdir, max_retries=0)
  (new,) = [t for t in edited.trials if t.id not in before]
  st = _statuses(workdir, edited)
  assert {tid: st[tid]["attempts"] for tid in before} == before
  assert st[new.id]["status"] == "ok" and st[new.id]["cells"]["computed"] == []
  with open(os.path.join(workdir, "sweep_results.csv")) as f:
    assert len({r["trial_id"] for r in csv.DictReader(f)}) == 7

  # --retry_failed re-runs only the failure.
  driver.run_sweep(str(cfg), workdir, max_retries=0, retry_failed=True)
  st = _statuses(workdir, edited)
  assert st[bad.id]["attempts"] == 2 and st[new.id]["attempts"] == 1


def test_trial_killed_mid_training_resumes(ray_local, tmp_path):
  cfg, workdir = tmp_path / "ft.py", str(tmp_path / "sweep")
  cfg.write_text(HEAD + textwrap.dedent('''
      def sweep(add):
        add({"regimes": ("finetuned",), "train.num_epochs": 3, "train.max_steps_per_epoch": 1,
             "train.checkpoint_min_interval_seconds": 0.0, "train.bn_recalibration": "off"})
      '''))
  killed = {}

  def kill_after_first_checkpoint():
    deadline = time.time() + 1200
    while time.time() < deadline and not killed:
      for status in glob.glob(os.path.join(workdir, "runs", "*", "status.json")):
        steps = [s for s in glob.glob(os.path.join(workdir, "shared", "cells", "train", "*",
                                                   "*", "*", "checkpoints", "*"))
                 if os.path.basename(s).isdigit()]  # finalized (orbax writes under a tmp name)
        record = ledger.read_json(status) or {}
        if steps and record.get("status") == "running" and record.get("attempts") == 1:
          os.kill(int(record["pid"]), signal.SIGKILL)
          killed.update(pid=record["pid"], steps=sorted(os.path.basename(s) for s in steps))
      time.sleep(0.5)

  watcher = threading.Thread(target=kill_after_first_checkpoint, daemon=True)
  watcher.start()
  plan = driver.run_sweep(str(cfg), workdir, max_retries=1)
  watcher.join(timeout=5)
  assert killed, "the trial finished before its first checkpoint"
  status = ledger.read_status(workdir, plan.trials[0].id)
  assert status["status"] == "ok" and status["attempts"] == 2 and status["pid"] != killed["pid"]
  (metrics,) = glob.glob(os.path.join(workdir, "shared", "cells", "train", "*", "*", "*",
                                      "metrics.jsonl"))
  rows = [json.loads(line) for line in open(metrics)]
  epochs = [r["epoch"] for r in rows if r["kind"] == "valid"]
  # Resumed from the checkpoint: the epoch before the kill was not trained again.
  assert epochs.count(0) == 1 and sorted(set(epochs)) == [0, 1, 2]
