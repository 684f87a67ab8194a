"""The scatter PNG exists, decodes, and is a real picture (not a blank canvas)."""

import numpy as np
import pytest
from PIL import Image

from bioacoustics_jax.report import figures


@pytest.mark.parametrize("n_classes", [4, 40])
def test_scatter_writes_a_valid_png(tmp_path, n_classes):
  rng = np.random.default_rng(0)
  labels = rng.integers(0, n_classes, 300)
  projection = rng.standard_normal((300, 2)) + labels[:, None]
  names = ["background"] + [f"species_{i}" for i in range(1, n_classes)]
  out = figures.scatter(projection, labels, names, "watkins / rn18 / finetuned",
                        str(tmp_path / "figs" / "a.png"))
  with Image.open(out) as image:
    assert image.format == "PNG"
    width, height = image.size
    pixels = np.asarray(image.convert("RGB"))
  assert width > 300 and height > 300
  assert (tmp_path / "figs" / "a.png").stat().st_size > 10_000
  assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > min(n_classes, 20)  # coloured points


def test_scatter_rejects_bad_shapes(tmp_path):
  with pytest.raises(ValueError, match=r"projection \[N, 2\]"):
    figures.scatter(np.zeros((10, 3)), np.zeros(10, int), ["a"], "t", str(tmp_path / "x.png"))
