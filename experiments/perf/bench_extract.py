r"""Full-size extraction throughput: audio in, embedding out, the way a frozen cell runs it.

  nice .venv/bin/python -m experiments.perf.bench_extract \
      --models=efficientnet_b1,efficientnet_b3,convnext_tiny,vit_b_16,cnn14_random

For each model (random init at full size: throughput does not depend on the weights) this
builds embed/extract.py's own jitted `make_embed_fn` (input recipe + backbone, on device) at
the model's input rate (`--rate` for recipes that take the dataset's rate, else the recipe's
own), feeds a batch of `--seconds`-long noise clips and reports the compile time and the median
of `--repeats` timed calls as clips/s and audio seconds per wall second. The load average is
printed beside each row: on a shared machine absolute numbers move with it.
"""

from __future__ import annotations

import os
import statistics
import time

from absl import app
from absl import flags

_MODELS = flags.DEFINE_list(
    "models", ["efficientnet_b1", "efficientnet_b3", "convnext_tiny", "vit_b_16",
               "cnn14_random"], "Model ids of the zoo.")
_BATCH = flags.DEFINE_integer("batch", 8, "Clips per call.")
_SECONDS = flags.DEFINE_float("seconds", 3.0, "Clip length.")
_RATE = flags.DEFINE_integer("rate", 22050, "Dataset rate, for recipes without a fixed rate.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls (median).")


def bench_one(name: str, batch: int, seconds: float, rate: int, repeats: int) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed import extract  # pylint: disable=g-import-not-at-top

  backbone = zoo.resolve(name)
  rate = backbone.input_rate(rate)
  audio = 0.1 * np.random.default_rng(0).standard_normal((batch, int(seconds * rate)))
  audio = audio.astype(np.float32)
  variables = extract.place_variables(
      backbone.init_variables(jax.random.key(0), backbone.sample_input(rate, audio.shape[1])))
  fn, sharding = extract.make_embed_fn(backbone.module, backbone.recipe.prepare, rate)
  x = jax.device_put(audio, sharding)
  start = time.perf_counter()
  out = jax.block_until_ready(fn(variables, x))
  compile_s = time.perf_counter() - start
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(variables, x))
    times.append(time.perf_counter() - start)
  call_s = statistics.median(times)
  return {"model": name, "rate": rate, "embedding": tuple(out.shape), "compile_s": compile_s,
          "call_s": call_s, "clips_per_s": batch / call_s,
          "audio_s_per_s": batch * seconds / call_s, "load": os.getloadavg()[0]}


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  print(f"| model | input rate | batch x s | compile s | call s | clips/s | audio s / s | load |"
        f"  ({jax.device_count()} {jax.devices()[0].platform} devices, {os.cpu_count()} cores)")
  for name in _MODELS.value:
    r = bench_one(name, _BATCH.value, _SECONDS.value, _RATE.value, _REPEATS.value)
    print(f"| {r['model']} | {r['rate']} | {_BATCH.value} x {_SECONDS.value:g} | "
          f"{r['compile_s']:.1f} | {r['call_s']:.2f} | {r['clips_per_s']:.2f} | "
          f"{r['audio_s_per_s']:.1f} | {r['load']:.0f} |", flush=True)


if __name__ == "__main__":
  from launch import cpu_defaults  # pylint: disable=g-import-not-at-top
  cpu_defaults.apply()
  app.run(main)
