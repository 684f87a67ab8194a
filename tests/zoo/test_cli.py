"""`python -m bioacoustics_jax.zoo`: port once, save, load back (also as the default start of a
run); clear errors when weights are absent."""

import os
import subprocess
import sys
import urllib.request

import flax
import jax
import numpy as np
import pytest
import torch

from bioacoustics_jax import zoo
from bioacoustics_jax.porting import checkpoint
from bioacoustics_jax.porting import load
from bioacoustics_jax.porting import parity
from bioacoustics_jax.zoo import __main__ as cli


def test_port_save_and_load_roundtrip(tmp_path):
  spec = zoo.get_preset("rn18p")
  torch_model = parity.randomize_norms(spec.torch_reference(), seed=5)
  source = tmp_path / "my_resnet18.pth"
  torch.save(torch_model.state_dict(), source)

  out = cli.port("rn18p", str(source), str(tmp_path / "out"))
  meta = checkpoint.load_metadata(out)
  assert meta["model"] == "rn18p" and meta["architecture"] == "resnet18"
  assert meta["sha256"] == checkpoint.sha256_of(source) and meta["source_name"] == source.name
  assert meta["num_params"] == sum(p.numel() for p in torch_model.parameters())

  restored = checkpoint.load_variables(out)
  expected = zoo.resolve("rn18p").port_file(source)
  a, b = (flax.traverse_util.flatten_dict(t) for t in (restored, expected))
  assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
  x = np.random.default_rng(0).standard_normal((1, 64, 48, 3)).astype(np.float32)
  logits, _ = spec.build().apply(restored, x)
  assert parity.max_abs_diff(logits, parity.torch_forward(torch_model, x)) <= 1e-4

  with pytest.raises(FileExistsError, match="already exists"):
    cli.port("rn18p", str(source), str(tmp_path / "out"))


def test_missing_weights_name_the_download_command_and_nothing_is_fetched(tmp_path,
                                                                         monkeypatch):
  """Porting (and so a run) never downloads: a missing file is an error naming the
  `--download` command, the file, its URL and the folder."""
  def no_download(*args, **kwargs):
    raise AssertionError("a run tried to download")
  monkeypatch.setattr(urllib.request, "urlopen", no_download)
  monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
  folder = tmp_path / "does" / "not" / "exist"
  with pytest.raises(load.MissingWeightsError) as err:
    cli.port("alex", None, str(tmp_path / "out"), weights_dir=str(folder))
  message = str(err.value)
  assert f"python -m bioacoustics_jax.zoo --download=alex --weights_dir={folder}" in message
  assert "alexnet-owt-7be5be79.pth" in message and str(folder) in message
  assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
  assert not folder.exists()
  with pytest.raises(load.MissingWeightsError, match="--download=rn18p "):
    zoo.resolve("rn18p", weights_dir=folder).check_weights()


def test_random_init_model_needs_weights_flag(tmp_path):
  with pytest.raises(ValueError, match="random-init"):
    cli.port("rn18", None, str(tmp_path / "out"))


def test_command_line_nonexistent_weights_file(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  result = subprocess.run(
      [sys.executable, "-m", "bioacoustics_jax.zoo", "--model=vggish",
       f"--weights={tmp_path / 'missing.pth'}", f"--out={tmp_path / 'out'}"],
      capture_output=True, text=True, env=env, check=False, timeout=120)
  assert result.returncode != 0
  assert "missing.pth: no such file" in result.stderr
  assert "vggish-10086976.pth" in result.stderr
  assert "https://github.com/harritaylor/torchvggish/releases/download/v0.1/" in result.stderr
  assert not (tmp_path / "out").exists()


def test_load_variables_on_a_wrong_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a ported-weights directory"):
    checkpoint.load_variables(tmp_path)


def test_a_run_starts_from_the_ported_directory_and_ignores_a_stale_one(tmp_path):
  """The CLI's default --out is where resolve() looks: runs load the orbax copy instead of
  porting the .pth again, unless the .pth in the folder is no longer the one it came from."""
  spec = zoo.get_preset("rn18p")
  torch.manual_seed(0)
  torch.save(spec.torch_reference().state_dict(), tmp_path / spec.weights)
  out = cli.port("rn18p", None, None, weights_dir=str(tmp_path))
  backbone = zoo.resolve("rn18p", weights_dir=tmp_path)
  assert out == backbone.ported_dir
  variables = backbone.init_variables(jax.random.key(0))
  (tmp_path / spec.weights).unlink()  # the run no longer needs the .pth at all
  again = zoo.resolve("rn18p", weights_dir=tmp_path).init_variables(jax.random.key(0))
  a, b = (flax.traverse_util.flatten_dict(t) for t in (variables, again))
  assert all(np.array_equal(a[k], b[k]) for k in a)
  torch.save(parity.randomize_norms(spec.torch_reference(), seed=9).state_dict(),
             tmp_path / spec.weights)  # a different file now: the ported copy is stale
  fresh = zoo.resolve("rn18p", weights_dir=tmp_path).init_variables(jax.random.key(0))
  c = flax.traverse_util.flatten_dict(fresh)
  assert not np.array_equal(c[("batch_stats", "bn1", "var")], a[("batch_stats", "bn1", "var")])
