"""EmbeddingSet: the one type that flows from extraction into evaluation and reports."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from bioacoustics_jax import paths


@dataclasses.dataclass
class EmbeddingSet:
  """Embeddings of one dataset split under one model and regime.

  Attributes:
    embeddings: float32 [N, D].
    labels: int [N] cluster-evaluation labels. For detection sets, background windows are 0 and
      labelled windows are argmax(multi-hot) + 1 (the paper's convention).
    ids: N example ids (file path, or path@start for detection windows).
    label_names: names indexed by label value.
    meta: free-form provenance (dataset, model, regime, split, seconds, skipped files, ...).
    targets: detection sets only, the multi-hot [N, C] class targets (no background column)
      that `labels` was derived from; the linear probe's mAP needs them. None otherwise (and in
      stores written before this field existed).
  """

  embeddings: np.ndarray
  labels: np.ndarray
  ids: list[str]
  label_names: list[str]
  meta: dict[str, Any] = dataclasses.field(default_factory=dict)
  targets: np.ndarray | None = None

  def __post_init__(self):
    self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
    self.labels = np.asarray(self.labels, dtype=np.int64)
    if self.targets is not None:
      self.targets = np.asarray(self.targets, dtype=np.float32)
      if self.targets.ndim != 2 or len(self.targets) != len(self.embeddings):
        raise ValueError(f"targets must be multi-hot [N={len(self.embeddings)}, C], got shape "
                         f"{self.targets.shape}")
    if self.embeddings.ndim != 2:
      raise ValueError(f"embeddings must be [N, D], got shape {self.embeddings.shape}")
    n = len(self.embeddings)
    if len(self.labels) != n or len(self.ids) != n:
      raise ValueError(
          f"EmbeddingSet sizes disagree: {n} embeddings, {len(self.labels)} labels, "
          f"{len(self.ids)} ids")

  def __len__(self) -> int:
    return len(self.embeddings)

  @property
  def dim(self) -> int:
    return self.embeddings.shape[1]

  @property
  def n_classes(self) -> int:
    return int(len(np.unique(self.labels)))

  def save(self, path: str) -> str:
    """Writes `path` (.npz); ids, names and meta ride along as JSON so the file is self-contained."""
    extra = {} if self.targets is None else {"targets": self.targets}
    # Local or a URI; a killed run never leaves a half-written store behind (paths.write_bytes).
    paths.save_npz(
        path,
        embeddings=self.embeddings,
        labels=self.labels,
        ids=np.asarray(self.ids, dtype=str),
        header=np.asarray(json.dumps({"label_names": list(self.label_names), "meta": self.meta})),
        **extra,
    )
    return path

  @classmethod
  def load(cls, path: str) -> "EmbeddingSet":
    if not paths.exists(path):
      raise FileNotFoundError(f"No embedding set at {path}; run extraction first.")
    with paths.load_npz(path) as f:
      header = json.loads(str(f["header"]))
      return cls(
          embeddings=f["embeddings"],
          labels=f["labels"],
          ids=[str(i) for i in f["ids"]],
          label_names=header["label_names"],
          meta=header["meta"],
          targets=f["targets"] if "targets" in f.files else None,
      )
