"""Loading PyTorch checkpoints safely (weights_only), in every file format a user downloads."""

import numpy as np
import pytest
import torch

from bioacoustics_jax.porting import load

class NotATensor:  # pickled by reference: only loadable by executing arbitrary code
  pass


def test_load_state_dict_formats(tmp_path):
  sd = {"a.weight": torch.randn(3, 2), "a.bias": torch.zeros(3)}
  torch.save(sd, tmp_path / "plain.pth")
  torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "wrapped.pth")
  torch.save({k: v.bfloat16() for k, v in sd.items()}, tmp_path / "bf16.pth")
  from safetensors.torch import save_file  # pylint: disable=g-import-not-at-top
  save_file(sd, str(tmp_path / "w.safetensors"))
  for name in ("plain.pth", "wrapped.pth", "w.safetensors", "bf16.pth"):
    out = load.load_state_dict(tmp_path / name)
    assert set(out) == set(sd), name
    np.testing.assert_allclose(out["a.weight"], sd["a.weight"].numpy(),
                               rtol=1e-2 if name == "bf16.pth" else 0)


def test_unsafe_pickle_is_refused_not_executed(tmp_path):
  torch.save({"a": NotATensor()}, tmp_path / "evil.pth")
  with pytest.raises(load.UnsafeCheckpointError, match="weights_only=True"):
    load.load_state_dict(tmp_path / "evil.pth")


def test_not_a_state_dict_and_missing_file(tmp_path):
  torch.save([torch.zeros(2)], tmp_path / "list.pth")
  with pytest.raises(ValueError, match="does not hold a state_dict"):
    load.load_state_dict(tmp_path / "list.pth")
  with pytest.raises(FileNotFoundError, match="nope.pth"):
    load.load_state_dict(tmp_path / "nope.pth")


def test_weights_dir_default_and_override(monkeypatch, tmp_path):
  monkeypatch.delenv(load.WEIGHTS_ENV, raising=False)
  assert load.weights_dir().parts[-3:] == (".cache", "bioacoustics_jax", "weights")
  assert load.weights_dir(tmp_path) == tmp_path
