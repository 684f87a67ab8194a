r"""A 12-trial sweep under fire: one trial process SIGKILLed mid-training, one trial that fails.

  /work/main/.venv/bin/python -m experiments.perf.chaos_sweep --workdir=/tmp/chaos --num_cpus=2

Trials: {rn18, rn50} x {frozen, finetuned} x 2 lrs (smoke widths, the tiny bats set, 2 epochs
of 1 step), 3 evaluation-only variants and 1 trial whose split does not exist. First the same
grid with VGGish added is submitted (`--dry_run`): refused up front (0.15 s clips, 0.975 s
window), nothing runs. Then the sweep runs in a `python -m launch.sweep` subprocess; once a
fine-tuning checkpoint exists, the process of a running fine-tuned trial is SIGKILLed (Ray
restarts it; it resumes from the checkpoint). Prints the final `--status` table, the trial
attempts and the report.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import textwrap
import time

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", "/tmp/chaos_sweep", "Sweep folder (emptied first).")
_NUM_CPUS = flags.DEFINE_integer("num_cpus", 2, "CPUs of the local Ray.")

CONFIG = textwrap.dedent('''
    """Chaos sweep (experiments/perf/chaos_sweep.py)."""
    from experiments.configs import quickstart

    def get_config(arg=None):
      config = quickstart.get_config(arg or "smoke=true,datasets=synth_bats")
      with config.unlocked():
        config.evaluate.reducers = ("pca",)
        config.evaluate.clusterers = ("kmeans",)
        config.evaluate.probes = ()
        config.train.num_epochs = 2
        config.train.max_steps_per_epoch = 1
        config.train.checkpoint_min_interval_seconds = 0.0
        config.train.bn_recalibration = "off"
      return config

    def sweep(add):
      for models in MODELS:
        for regimes in (("frozen",), ("finetuned",)):
          for lr in (1e-3, 1e-2):
            add(models=models, regimes=regimes, **{"train.learning_rates": (lr,)})
      for pca in (3, 4, 5):
        add({"evaluate.pca_dim": pca})
      add({"data.split": "nope"})
    ''')


def _sweep_cmd(path: str, workdir: str, *extra: str) -> list[str]:
  return [sys.executable, "-m", "launch.sweep", f"--config={path}", f"--workdir={workdir}",
          *extra]


def main(argv):
  del argv
  from launch.sweeps import ledger  # pylint: disable=g-import-not-at-top
  workdir = os.path.abspath(_WORKDIR.value)
  subprocess.run(["rm", "-rf", workdir], check=True)
  os.makedirs(workdir)
  bad = os.path.join(workdir, "chaos_vggish.py")
  with open(bad, "w") as f:
    f.write(CONFIG.replace("MODELS", '(("rn18",), ("rn50",), ("vggish",))'))
  out = subprocess.run(_sweep_cmd(bad, os.path.join(workdir, "refused"), "--dry_run"),
                       capture_output=True, text=True)
  print(f"$ {' '.join(_sweep_cmd(bad, 'refused', '--dry_run')[1:])}\n-> exit {out.returncode}")
  print("\n".join(line for line in out.stderr.splitlines() if "SweepError" in line or
                  line.startswith(("- ", "  trials", "Fix", "Trials"))))
  path = os.path.join(workdir, "chaos.py")
  with open(path, "w") as f:
    f.write(CONFIG.replace("MODELS", '(("rn18",), ("rn50",))'))
  sweep_dir = os.path.join(workdir, "sweep")
  cmd = _sweep_cmd(path, sweep_dir, f"--num_cpus={_NUM_CPUS.value}", "--max_retries=1")
  print(f"$ {' '.join(cmd[1:])}")
  start = time.time()
  with open(os.path.join(workdir, "sweep.log"), "w") as log:
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    killed = None
    while proc.poll() is None:
      if killed is None and any(  # a finalized checkpoint (orbax writes under a tmp name)
          os.path.basename(s).isdigit() for s in glob.glob(os.path.join(
              sweep_dir, "shared", "cells", "train", "*", "*", "*", "checkpoints", "*"))):
        for status_path in glob.glob(os.path.join(sweep_dir, "runs", "*", "status.json")):
          status = ledger.read_json(status_path) or {}
          spec = ledger.read_json(os.path.join(os.path.dirname(status_path), "trial.json"))
          if (status.get("status") == "running" and status.get("attempts") == 1
              and "finetuned" in spec["config"]["regimes"]):
            os.kill(int(status["pid"]), signal.SIGKILL)
            killed = (spec["id"], status["pid"], round(time.time() - start))
            print(f"SIGKILL trial {killed[0]} (pid {killed[1]}) at {killed[2]} s")
            break
      time.sleep(1)
  print(f"sweep exit {proc.returncode} after {time.time() - start:.0f} s")
  print(f"$ python -m launch.sweep --workdir={sweep_dir} --status")
  print(subprocess.run([sys.executable, "-m", "launch.sweep", f"--workdir={sweep_dir}",
                        "--status"], capture_output=True, text=True).stdout)
  for tid in ledger.read_json(os.path.join(sweep_dir, "sweep.json"))["trials"]:
    st = ledger.read_status(sweep_dir, tid)
    print(f"{tid} {st['status']:<11} attempts={st.get('attempts')} seconds={st.get('seconds')} "
          f"cells computed={len(st.get('cells', {}).get('computed', []))} "
          f"loaded={len(st.get('cells', {}).get('loaded', []))}")
  print(open(os.path.join(sweep_dir, "sweep_report.md")).read())


if __name__ == "__main__":
  app.run(main)
