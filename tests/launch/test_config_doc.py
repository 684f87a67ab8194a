"""--print_config prints each shipped config's every key with its comment; --help its :arg keys."""

import glob
import os
import subprocess
import sys

import ml_collections
import pytest

from launch import config_doc
from launch import config_loader

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CONFIG_FILES = sorted(p for p in glob.glob(os.path.join(ROOT, "experiments", "configs", "*.py"))
                      if not os.path.basename(p).startswith(("_", "common")))
# The configs launch.run runs (an archive config, for launch.embed, has no training section).
RUN_CONFIG_FILES = [p for p in CONFIG_FILES
                    if "train" in config_loader.load_module(p).get_config(None)]


def _leaves(config: ml_collections.ConfigDict, prefix: str = ""):
  for key in config.keys():
    value = config[key]
    if isinstance(value, ml_collections.ConfigDict) and value.keys():
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield prefix + key


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_describe_prints_every_key_with_its_value(path):
  config = config_loader.load_module(path).get_config(None)
  text = config_doc.describe(config, path)
  lines = {line.split(" = ")[0]: line for line in text.splitlines() if " = " in line}
  leaves = list(_leaves(config))
  assert leaves and set(leaves) <= set(lines), set(leaves) - set(lines)
  for key in leaves:
    value = config
    for part in key.split("."):
      value = value[part]
    if not isinstance(value, ml_collections.ConfigDict):
      assert lines[key].startswith(f"{key} = {value!r}"), lines[key]
  if path not in RUN_CONFIG_FILES:
    return
  # Comments come from where keys are defined, also in other files (train/config.py, common.py).
  assert "# epochs per learning rate" in lines["train.num_epochs"]
  assert "# the split whose embeddings are clustered" in lines["data.split"]
  assert "Empty tuple = train once" in lines["train.learning_rates"]  # continuation joined


@pytest.mark.parametrize("path", RUN_CONFIG_FILES, ids=os.path.basename)
def test_print_config_cli_prints_every_key_applies_overrides_and_needs_no_workdir(path):
  out = subprocess.run(
      [sys.executable, "-m", "launch.run", f"--config={path}:smoke=true", "--print_config",
       "--config.train.num_epochs=3"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr[-2000:]
  printed = {line.split(" = ")[0] for line in out.stdout.splitlines() if " = " in line}
  config = config_loader.load_module(path).get_config("smoke=true")
  assert set(_leaves(config)) <= printed, set(_leaves(config)) - printed
  assert "train.num_epochs = 3  # epochs per learning rate" in out.stdout


def test_help_on_a_config_lists_its_arg_keys():
  out = subprocess.run(
      [sys.executable, "-m", "launch.run", "--config=experiments/configs/quickstart.py", "--help"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  text = out.stdout + out.stderr
  for key in ("models", "size", "regimes", "datasets", "smoke"):
    assert f"    {key} = " in text, text[-3000:]
  assert "--print_config" in text


def test_arg_keys_resolve_module_constants():
  keys = dict(config_doc.arg_keys(os.path.join(ROOT, "experiments", "configs", "beans_paper.py")))
  assert "'watkins'" in keys["datasets"] and keys["root"] == "''"
