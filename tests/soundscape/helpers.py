"""A tiny archive config over a planted synthetic archive, shared by the soundscape tests."""

from experiments.configs import archive as archive_config


def tiny_config(root, model="rn18", overrides=None, **archive):
  config = archive_config.get_config(f"root={root},model={model},window_seconds=1,"
                                     "smoke=true,batch_size=8")
  with config.unlocked():
    config.archive.shard_rows = 1  # a shard per recording: kills and resumes have work to split
    config.archive.update(archive)
    if overrides is not None:
      config.model_overrides = overrides
  return config
