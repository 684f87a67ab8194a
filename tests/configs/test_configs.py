"""Every config under experiments/configs loads, locks, and rejects misspelled keys."""

import glob
import importlib.util
import os

import ml_collections
import pytest

from experiments.configs import common

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "configs")
CONFIG_FILES = sorted(p for p in glob.glob(os.path.join(CONFIG_DIR, "*.py"))
                      if not os.path.basename(p).startswith(("_", "common")))


def _load(path):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_config_loads_locked_with_smoke_variant(path):
  module = _load(path)
  assert "--config=" in module.__doc__, "the run command belongs in the docstring"
  for arg in (None, "smoke=true"):
    config = module.get_config(arg)
    assert isinstance(config, ml_collections.ConfigDict) and config.is_locked
    with pytest.raises(AttributeError):
      config.dat = 1  # a typo must be an error, not a new field
    if "archive" in config:  # an archive config (launch.embed) embeds one model, no regimes
      assert config.model and "root" in config.archive
    else:
      assert config.models and config.regimes


def test_parse_arg_types_and_errors():
  arg = common.parse_arg("models=rn18+alex,smoke=true,n=3", models=("x",), smoke=False, n=1)
  assert arg.models == ("rn18", "alex") and arg.smoke is True and arg.n == 3
  with pytest.raises(ValueError, match="Unknown config arg 'modles'.*models"):
    common.parse_arg("modles=rn18", models=("x",))
  with pytest.raises(ValueError, match="expected true or false"):
    common.parse_arg("smoke=maybe", smoke=False)
  with pytest.raises(ValueError, match="not key=value"):
    common.parse_arg("rn18", models=("x",))
