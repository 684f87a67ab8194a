"""`python -m bioacoustics_jax.porting`: port, save, load back; clear errors when weights are absent."""

import os
import subprocess
import sys
import urllib.error

import flax
import numpy as np
import pytest
import torch

from bioacoustics_jax.models import registry
from bioacoustics_jax.porting import __main__ as cli
from bioacoustics_jax.porting import checkpoint
from bioacoustics_jax.porting import load
from bioacoustics_jax.porting import parity


def test_port_save_and_load_roundtrip(tmp_path):
  spec = registry.get("rn18p")
  torch_model = parity.randomize_norms(spec.torch_reference(), seed=5)
  source = tmp_path / "my_resnet18.pth"
  torch.save(torch_model.state_dict(), source)

  out = cli.port("rn18p", str(source), str(tmp_path / "out"))
  meta = checkpoint.load_metadata(out)
  assert meta["model"] == "rn18p" and meta["architecture"] == "resnet18"
  assert meta["sha256"] == checkpoint.sha256_of(source) and meta["source_name"] == source.name
  assert meta["num_params"] == sum(p.numel() for p in torch_model.parameters())

  restored = checkpoint.load_variables(out)
  expected = load.port_file(spec, source, load.sample_input(spec))
  a, b = (flax.traverse_util.flatten_dict(t) for t in (restored, expected))
  assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
  x = np.random.default_rng(0).standard_normal((1, 64, 48, 3)).astype(np.float32)
  logits, _ = spec.build().apply(restored, x)
  assert parity.max_abs_diff(logits, parity.torch_forward(torch_model, x)) <= 1e-4

  with pytest.raises(FileExistsError, match="already exists"):
    cli.port("rn18p", str(source), str(tmp_path / "out"))


def test_offline_without_weights_says_what_to_fetch_and_where(tmp_path, monkeypatch):
  def offline(url, dst, progress=True):
    raise urllib.error.URLError("no network")
  monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
  folder = tmp_path / "does" / "not" / "exist"
  with pytest.raises(load.MissingWeightsError) as err:
    cli.port("alex", None, str(tmp_path / "out"), weights_dir=str(folder))
  message = str(err.value)
  assert "alexnet-owt-7be5be79.pth" in message and str(folder) in message
  assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message


def test_random_init_model_needs_weights_flag(tmp_path):
  with pytest.raises(ValueError, match="random-init"):
    cli.port("rn18", None, str(tmp_path / "out"))


def test_command_line_nonexistent_weights_file(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  result = subprocess.run(
      [sys.executable, "-m", "bioacoustics_jax.porting", "--model=vggish",
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
