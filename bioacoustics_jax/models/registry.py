"""Name -> ModelSpec. Fails loudly on duplicate or unknown names, listing the known ones."""

from __future__ import annotations

from bioacoustics_jax.models.spec import ModelSpec

_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
  if spec.name in _REGISTRY:
    raise ValueError(f"Model name {spec.name!r} is registered twice.")
  _REGISTRY[spec.name] = spec
  return spec


def get(name: str) -> ModelSpec:
  _load_families()
  try:
    return _REGISTRY[name]
  except KeyError:
    raise KeyError(
        f"Unknown model {name!r}. Known models: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
  _load_families()
  return sorted(_REGISTRY)


def _load_families() -> None:
  # Importing the package imports every family module, each of which registers its presets.
  import bioacoustics_jax.models  # pylint: disable=g-import-not-at-top,unused-import
