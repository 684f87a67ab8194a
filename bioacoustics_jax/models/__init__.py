"""Flax backbones. Importing this package registers every family's presets."""

# One import per family; each module registers its presets in `registry`.
