"""`python -m bioacoustics_jax.zoo --list`: every preset as one row, read from the table.

Columns: id, family, input rate, window, embedding dim, licence, weights file, whether that
file (or its ported orbax checkpoint) is in the weights folder, and what the architecture's
numbers are tested against (`torch`: its PyTorch reference at random init; `librosa`: the
MFCC baseline). Nothing here is kept by hand: every value comes from the preset, its recipe
and the weights folder that runs use ($BIOACOUSTICS_JAX_WEIGHTS or --weights_dir).
"""

from __future__ import annotations

import os

from bioacoustics_jax.porting import checkpoint
from bioacoustics_jax.zoo import backbone as backbone_lib
from bioacoustics_jax.zoo import presets

COLUMNS = ("id", "family", "rate", "window", "dim", "licence", "weights", "present", "tested")


def _present(backbone: backbone_lib.Backbone) -> str:
  if backbone.preset.weights is None:
    return "-"
  ported = (backbone.ported_dir / checkpoint.METADATA_FILE).is_file()
  return "yes" if backbone.weights_path.is_file() or ported else "no"


def rows(weights_dir: str | os.PathLike | None = None) -> list[dict[str, str]]:
  """One dict per preset (COLUMNS as keys), in table order."""
  out = []
  for preset in presets.PRESETS:
    backbone = backbone_lib.resolve(preset.name, weights_dir=weights_dir)
    rate = backbone.recipe.sample_rate
    window = preset.window_seconds
    out.append({
        "id": preset.name, "family": preset.family,
        "rate": f"{rate / 1000:g} kHz" if rate else "dataset",
        "window": f"{window:g} s" if window else "any",
        "dim": str(preset.embedding_dim), "licence": preset.licence or "-",
        "weights": preset.weights or ("(random init)" if preset.trainable else "(none)"),
        "present": _present(backbone),
        "tested": preset.parity,
    })
  return out


def table(weights_dir: str | os.PathLike | None = None) -> str:
  """The rows as an aligned text table, the weights folder named above it."""
  data = rows(weights_dir)
  widths = {c: max(len(c), *(len(r[c]) for r in data)) for c in COLUMNS}
  line = lambda r: "  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip()
  folder = backbone_lib.resolve(presets.PRESETS[0].name, weights_dir=weights_dir).weights_dir
  return "\n".join([f"weights folder: {folder}", line({c: c for c in COLUMNS}),
                    *(line(r) for r in data)])
