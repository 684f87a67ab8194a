r"""An unlabelled archive of long recordings -> an embedding store (bioacoustics_jax/soundscape/).

  python -m launch.embed \
      --config=experiments/configs/archive.py:root=/path/to/recordings,model=rn18 \
      --workdir=workdir/site1

Every recording under `root` (any length, any format soundfile reads, sub-folders included) is
cut into windows of `window_seconds` every `hop_seconds` (0 = the window: no overlap), streamed,
embedded on every device (and every host of a multi-host run) and written to the store in
--workdir (manifest.json + shards/*.npz). Run it again after a kill, or after new recordings
arrive: only recordings not in the store are embedded. A store made with another model or window
setting is refused. Then:

  python -m launch.search --store=workdir/site1 --query=clip.wav@12.5-15.5 --k=50
  python -m launch.discover --store=workdir/site1

Other arguments: `sample_rate` (models that take any rate: 0 = the most common rate of the
files), `channel` (-1 averages), `batch_size`, `smoke` (tiny widths, for tests).
"""

import os

import ml_collections

from experiments.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = common.parse_arg(arg, root="", model="rn18", window_seconds=5.0, hop_seconds=0.0,
                         sample_rate=0, channel=-1, batch_size=32, smoke=False)
  config = ml_collections.ConfigDict()
  config.seed = 42  # random-init models: the init seed (recorded in the store's settings)
  config.archive = ml_collections.ConfigDict(dict(
      root=os.path.abspath(os.path.expanduser(arg.root)) if arg.root else "",
      window_seconds=arg.window_seconds,
      hop_seconds=arg.hop_seconds,    # 0 = window_seconds
      sample_rate=arg.sample_rate,    # any-rate models only; 0 = most common rate of the files
      channel=arg.channel,            # -1 averages the channels; 0, 1, ... picks one
      shard_rows=4096,                # a shard is committed once finished recordings fill it
      log_seconds=30.0,               # progress line (audio hours done, rate) this often
  ))
  config.model = arg.model
  config.model_overrides = ml_collections.ConfigDict(dict(width=4) if arg.smoke else {})
  config.weights_dir = ""  # "" = $BIOACOUSTICS_JAX_WEIGHTS or ~/.cache/bioacoustics_jax/weights
  # dtype: "auto" = bf16 compute on GPU/TPU, float32 on CPU; batch_size: rows per process.
  config.embed = ml_collections.ConfigDict(dict(dtype="auto", batch_size=arg.batch_size))
  return config.lock()
