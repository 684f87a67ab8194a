"""Child of test_processes.py: embeds an archive into a store, reading each block of windows
`delay` seconds late (a slow disk), so the parent can SIGKILL it between shards.

Argv: audio folder, workdir, delay in seconds.
"""

import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")


def main(root: str, workdir: str, delay: float) -> None:
  from bioacoustics_jax.soundscape import archive  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.soundscape import windows  # pylint: disable=g-import-not-at-top
  from tests.soundscape.helpers import tiny_config  # pylint: disable=g-import-not-at-top

  stream = windows.stream_windows

  def slow_stream(*args, **kwargs):
    for block in stream(*args, **kwargs):
      time.sleep(delay)
      yield block

  windows.stream_windows = slow_stream
  config = tiny_config(root)
  with config.unlocked():
    config.embed.batch_size = 2  # one 2-window recording per batch on 2 devices
  archive.embed_archive(config, workdir)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
