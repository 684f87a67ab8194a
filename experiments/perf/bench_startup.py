r"""A frozen run's fixed cost: process start -> its first cell's computation, through the CLI.

    git archive BASE | tar -x -C /tmp/base        # the tree to compare against
    nice python -m experiments.perf.bench_startup --test_clips=1000 --repeats=3 \
        --other_tree=/tmp/base --out=experiments/perf/results/startup_cpu.md

`python -X importtime -m launch.run` (quickstart, ResNet-18, synth_birds with `--test_clips`
test clips, k-means on raw embeddings) runs in a fresh workdir each time, from this tree and
from `--other_tree` alternately (same machine, same load, same data folder written once before
any timing); each run is stopped when store.py logs that the first cell is being computed
("Cell key ...: computing"): what comes before it is imports, config checks, model resolution,
the test split's preparation and the run record, the cost a frozen run pays before its first
batch. `--env=NAME=VALUE` adds a third arm: this tree with that environment variable set
(e.g. TF_USE_LEGACY_KERAS=0 undoes bioacoustics_jax/tf_compat.py). Reported per arm: median
seconds to that line, the import self-time sum (-X importtime) and which heavy packages were
imported by then, and the CPU seconds the process used by then (user + system, all its
threads: the steadier number on a loaded machine).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from experiments.perf import output

_TEST_CLIPS = flags.DEFINE_integer("test_clips", 1000, "test clips of synth_birds")
_REPEATS = flags.DEFINE_integer("repeats", 3, "runs per arm (median)")
_OTHER = flags.DEFINE_string("other_tree", None, "a checkout to compare against (git archive)")
_ENV = flags.DEFINE_multi_string("env", [], "NAME=VALUE: an arm of this tree with that variable")
_OUT = flags.DEFINE_string("out", None, "markdown file for the results (printed if unset)")
_TIMEOUT = flags.DEFINE_integer("timeout", 900, "seconds one run may take to reach the line")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MARK = re.compile(r"Cell key \w+: computing")
_HEAVY = ("tensorflow", "tensorflow_datasets", "keras", "jax", "flax", "optax", "orbax",
          "sklearn", "scipy", "pandas", "matplotlib", "umap", "torch")


def _write_data(root: str, test_clips: int) -> None:
  from bioacoustics_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  size = synthetic.SIZES["small"]
  per_class = -(-test_clips // len(synthetic.ROSTER["synth_birds"].species))
  size = dataclasses.replace(size, clips_per_class=(*size.clips_per_class[:2], per_class))
  synthetic.write_suite(root, size=size, seed=0, names=["synth_birds"])


def _one_run(tree: str, env_extra: dict[str, str], data_root: str) -> dict:
  """Seconds from process start to the mark, import self time, heavy packages imported."""
  workdir = tempfile.mkdtemp(prefix="bench_startup_")
  env = dict(os.environ, PYTHONPATH=tree, TF_CPP_MIN_LOG_LEVEL="2", **env_extra)
  command = [sys.executable, "-X", "importtime", "-m", "launch.run",
             "--config=experiments/configs/quickstart.py:models=rn18,datasets=synth_birds,probes=",
             f"--config.data.root={data_root}", "--config.data.synthetic_size=",
             "--config.evaluate.reducers=('none',)", "--config.evaluate.clusterers=('kmeans',)",
             f"--workdir={workdir}", "--alsologtostderr"]
  start = time.perf_counter()
  proc = subprocess.Popen(command, cwd=tree, env=env, stderr=subprocess.PIPE, text=True,
                          stdout=subprocess.DEVNULL)
  imports, seconds, tail = [], None, []
  try:
    for line in proc.stderr:
      if line.startswith("import time:"):
        imports.append(line)
      elif _MARK.search(line):
        seconds = time.perf_counter() - start
        break
      else:
        tail = (tail + [line])[-20:]
      if time.perf_counter() - start > _TIMEOUT.value:
        break
  finally:
    proc.kill()
    _, status, usage = os.wait4(proc.pid, 0)  # its CPU seconds: steadier than wall under load
    proc.returncode = status
    shutil.rmtree(workdir, ignore_errors=True)
  if seconds is None:
    raise RuntimeError(f"{tree} {env_extra}: the run never reached its first cell:\n" +
                       "".join(tail))
  self_us = sum(int(l.split("|")[0].split(":")[1]) for l in imports[1:])
  names = {l.rsplit("|", 1)[1].strip() for l in imports[1:]}
  return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "import_s": self_us / 1e6,
          "heavy": sorted(h for h in _HEAVY if h in names)}


def main(argv):
  del argv
  scratch = tempfile.mkdtemp(prefix="bench_startup_data_")
  data_root = os.path.join(scratch, "data")
  _write_data(data_root, _TEST_CLIPS.value)
  arms = {"this tree": (ROOT, {})}
  for setting in _ENV.value:
    name, _, value = setting.partition("=")
    arms[f"this tree, {name}={value}"] = (ROOT, {name: value})
  if _OTHER.value:
    arms[f"other tree ({_OTHER.value})"] = (os.path.abspath(_OTHER.value), {})
  runs = {a: [] for a in arms}
  for i in range(_REPEATS.value):
    for arm, (tree, env) in arms.items():
      runs[arm].append(_one_run(tree, env, data_root))
      print(i, arm, runs[arm][-1], flush=True)
  shutil.rmtree(scratch, ignore_errors=True)
  lines = [
      f"# A frozen run's fixed cost: process start -> first cell computing (synth_birds, "
      f"{_TEST_CLIPS.value} test clips, ResNet-18)", "",
      f"Command: `nice python -m experiments.perf.bench_startup {' '.join(sys.argv[1:])}`  ",
      f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs "
      f"(load avg {os.getloadavg()[0]:.1f} at the end); arms alternate, so compare arms "
      "within this table only.", "",
      "| arm | median s to first cell | runs s | CPU s of the process by then (median) | "
      "import self-time s (median) | heavy packages imported by then |",
      "|---|---:|---|---:|---:|---|"]
  for arm, got in runs.items():
    lines.append(
        f"| {arm} | {statistics.median(r['seconds'] for r in got):.1f} | "
        f"{[round(r['seconds'], 1) for r in got]} | "
        f"{statistics.median(r['cpu_s'] for r in got):.1f} | "
        f"{statistics.median(r['import_s'] for r in got):.1f} | {', '.join(got[-1]['heavy'])} |")
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  app.run(main)
