"""The quickstart smoke config, narrowed for experiment-level tests (one reducer, one clusterer)
with dotted-key overrides: `smoke_config("smoke=true,datasets=synth_bats", **{"embed.batch_size": 8})`."""

from experiments.configs import quickstart


def smoke_config(arg: str = "smoke=true,datasets=synth_bats", **changes):
  config = quickstart.get_config(arg)
  with config.unlocked():
    config.evaluate.reducers = ("pca",)
    config.evaluate.clusterers = ("kmeans",)
    if "probes=" not in arg:
      config.evaluate.probes = ()  # no train-split embeddings unless a test asks for probes
    for key, value in changes.items():
      target, _, leaf = key.rpartition(".")
      (config[target] if target else config)[leaf] = value
  return config
