r"""Peak memory of `launch.embed` as the archive grows: is it flat?

  nice .venv/bin/python -m experiments.perf.soundscape_memory --hours=1,10 \
      --out=experiments/perf/results/soundscape_memory_cpu.md

One 30-minute synthetic recording (planted.py, 16 kHz) is linked N times into an archive of each
size (symbolic links: the job reads N distinct files; the disk holds one), and each archive is
embedded by a fresh `python -m launch.embed` process (MFCC model, 5 s windows: the cheapest model,
so the job's own memory, not the network's, is what is measured). Peak RSS is that child's
ru_maxrss (os.wait4). Streaming windows and committing shards should keep it flat.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from experiments.perf import output

_HOURS = flags.DEFINE_list("hours", ["1", "10"], "Archive sizes in hours of audio.")
_MODEL = flags.DEFINE_string("model", "mfcc", "Zoo model id.")
_OUT = flags.DEFINE_string("out", "", "Write the markdown table here too.")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv):
  del argv
  from bioacoustics_jax.soundscape import planted  # pylint: disable=g-import-not-at-top
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    planted.write_archive(os.path.join(tmp, "one"), recordings=1, seconds=1800, window_seconds=5)
    source = os.path.join(tmp, "one", "rec000.wav")
    for hours in (float(h) for h in _HOURS.value):
      folder = os.path.join(tmp, f"archive{hours:g}")
      os.makedirs(folder)
      for i in range(int(round(hours * 2))):
        os.symlink(source, os.path.join(folder, f"r{i:04d}.wav"))
      start = time.perf_counter()
      child = subprocess.Popen(
          [sys.executable, "-m", "launch.embed",
           f"--config=experiments/configs/archive.py:root={folder},model={_MODEL.value},"
           "sample_rate=16000", f"--workdir={os.path.join(tmp, f'store{hours:g}')}"],
          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
      out = child.stdout.read()
      _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
      child.returncode = os.waitstatus_to_exitcode(status)
      seconds = time.perf_counter() - start
      if child.returncode:
        raise RuntimeError(f"launch.embed failed ({child.returncode}): {out[-2000:]}")
      peak = usage.ru_maxrss
      rows.append((hours, peak / 1024, seconds, out.strip().splitlines()[-1]))
      print(rows[-1], flush=True)
  lines = ["# Peak memory of launch.embed as the archive grows", "",
           f"Command: `nice .venv/bin/python -m experiments.perf.soundscape_memory "
           f"--hours={','.join(_HOURS.value)} --model={_MODEL.value}"
           f"{' --out=' + _OUT.value if _OUT.value else ''}`  ",
           f"Machine: {os.cpu_count()} CPU cores SHARED with other jobs (load avg "
           f"{os.getloadavg()[0]:.1f} at the end). Model {_MODEL.value}, 5 s windows, one "
           "30-minute 16 kHz recording linked 2 x hours times. Peak RSS is the child process's "
           "ru_maxrss (os.wait4 on that child).", "",
           "| audio hours | peak RSS MB | wall s | store |", "|---:|---:|---:|---|"]
  lines += [f"| {h:g} | {m:.0f} | {s:.0f} | {out} |" for h, m, s, out in rows]
  if len(rows) > 1:
    lines += ["", f"Largest / smallest peak RSS = {rows[-1][1] / rows[0][1]:.3f}."]
  output.emit(lines, _OUT.value)


if __name__ == "__main__":
  app.run(main)
