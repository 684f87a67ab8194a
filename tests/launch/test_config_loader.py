"""launch/config_loader.py: the one way a config file and its command-line overrides are read."""

import ast
import pathlib

import pytest

from launch import config_loader

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "experiments" / "configs" / "quickstart.py")


def test_load_applies_overrides_in_each_fields_type_and_locks():
  config = config_loader.load(f"{QUICKSTART}:smoke=true", {
      "train.num_epochs": "3", "evaluate.reducers": "('pca', 'umap')", "data.split": "valid",
      "train.progress_bar": "false", "evaluate.umap_min_dist": "0"})
  assert config.train.num_epochs == 3 and config.evaluate.reducers == ("pca", "umap")
  assert config.data.split == "valid" and config.train.progress_bar is False
  assert config.evaluate.umap_min_dist == 0.0 and isinstance(config.evaluate.umap_min_dist, float)
  assert config.is_locked
  assert config_loader.load(f"{QUICKSTART}:smoke=true").train.num_epochs != 3


@pytest.mark.parametrize("overrides, match", [
    ({"train.num_epoch": "3"}, r"unknown key 'train.num_epoch'.*nearest keys: train.num_epochs"),
    ({"train.num_epochs": "three"}, r"train.num_epochs='three' is not a Python literal of type int"),
    ({"train.num_epochs": "2.5"}, r"train.num_epochs=2.5 is a float; the field is a int"),
    ({"train.progress_bar": "maybe"}, r"expected true or false"),
])
def test_a_bad_override_names_the_key_and_the_fix(overrides, match):
  with pytest.raises(config_loader.ConfigLoadError, match=match):
    config_loader.load(f"{QUICKSTART}:smoke=true", overrides)


def test_a_missing_file_or_a_module_without_get_config_is_one_clear_line(tmp_path):
  with pytest.raises(config_loader.ConfigLoadError, match="does not exist"):
    config_loader.load(str(tmp_path / "nope.py"))
  (tmp_path / "empty.py").write_text("X = 1\n")
  with pytest.raises(config_loader.ConfigLoadError, match=r"has no get_config\(arg\)"):
    config_loader.load(str(tmp_path / "empty.py"))


def test_split_cli_overrides_takes_only_config_fields():
  rest, overrides = config_loader.split_cli_overrides(
      ["prog", "--config=x.py:a=1", "--config.train.lr=1e-4", "--workdir=w"])
  assert rest == ["prog", "--config=x.py:a=1", "--workdir=w"]
  assert overrides == {"train.lr": "1e-4"}
  with pytest.raises(config_loader.ConfigLoadError, match="write --config.train.lr=VALUE"):
    config_loader.split_cli_overrides(["--config.train.lr"])


def test_no_entry_point_reads_configs_another_way():
  """launch/ and experiments/perf/ call get_config only through the loader, and nothing uses
  ml_collections' config_flags (its overrides would parse differently from a sweep's)."""
  others = []
  for folder in ("launch", "experiments/perf", "bioacoustics_jax"):
    for path in (ROOT / folder).rglob("*.py"):
      if path.name == "config_loader.py":
        continue
      for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and "config_flags" in [a.name for a in node.names]:
          others.append(f"{path.relative_to(ROOT)}:{node.lineno} imports config_flags")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_config"):
          others.append(f"{path.relative_to(ROOT)}:{node.lineno} calls get_config")
  assert not others, others
