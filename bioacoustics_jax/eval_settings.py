"""The evaluator settings a config asks for, and whether a config field reaches any of them.

    settings = eval_settings.per_evaluator(config)   # grid.make_evaluators: one evaluator each
    why = eval_settings.unused(config, "evaluate.umap_min_dist")   # "" when some evaluator reads it

One setting per entry of `config.eval_grid` ({name: overrides of config.evaluate}, the paper
grid's reducer settings), or `config.evaluate` alone when there is no grid. So a field of
`config.evaluate` that every grid entry sets is read by no evaluator, and a field named after a
reducer or clusterer (`umap_min_dist`, `tsne_perplexity`, `hdbscan_min_cluster_size`: the names
come from the reducer and clusterer registries, whatever is registered later) is read only by
evaluators that run that reducer or clusterer. launch/config_loader.py refuses an override or a
swept field that reaches no evaluator, naming what replaces it.
"""

from __future__ import annotations

from typing import Any

import ml_collections

from bioacoustics_jax.evaluate import cluster as cluster_lib
from bioacoustics_jax.evaluate import reduce as reduce_lib


def per_evaluator(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
  """One settings dict per evaluator; the entries config.evaluate already equals come first
  (the first evaluator is the one the probes, report.html and TensorBoard use)."""
  base = config.evaluate.to_dict()
  grid = [dict(over) for over in (config.get("eval_grid") or {}).values()]
  grid.sort(key=lambda over: any(base.get(k) != v for k, v in over.items()))
  return [dict(base, **over) for over in grid] or [base]


def _owner(field: str) -> tuple[str, str] | None:
  """("reducers", "umap") for umap_min_dist: the step that alone reads `field`, if any."""
  for kind, names in (("reducers", reduce_lib.names()), ("clusterers", cluster_lib.names())):
    for name in names:
      if field.startswith(name + "_"):
        return kind, name
  return None


def unused(config: ml_collections.ConfigDict, key: str) -> str:
  """Why the dotted config field `key` reaches no evaluator, or "" when one reads it (fields
  outside `evaluate` and `eval_grid` are not judged here)."""
  parts = key.split(".")
  base = config.evaluate.to_dict() if "evaluate" in config else {}
  grid = {name: dict(over) for name, over in (config.get("eval_grid") or {}).items()}
  if parts[0] == "evaluate" and len(parts) == 2 and parts[1] in base:
    field = parts[1]
    if grid and all(field in over for over in grid.values()):
      setters = ", ".join(f"eval_grid.{n}.{field}={over[field]!r}" for n, over in grid.items())
      return f"every eval_grid entry sets its own {field} ({setters})"
    readers = {f"eval_grid.{n}": dict(base, **over) for n, over in grid.items()
               if field not in over} or {"evaluate": base}
  elif parts[0] == "eval_grid" and len(parts) == 3 and parts[1] in grid:
    field = parts[2]
    readers = {f"eval_grid.{parts[1]}": dict(base, **grid[parts[1]])}
  else:
    return ""
  owner = _owner(field)
  if owner is None:
    return ""
  kind, name = owner
  # A section without `reducers` / `clusterers` runs the evaluator's defaults: not judged.
  if any(kind not in s or name in s[kind] for s in readers.values()):
    return ""
  runs = ", ".join(f"{where}.{kind}={tuple(s[kind])!r}" for where, s in readers.items())
  own = [n for n, over in grid.items() if field in over and name in dict(base, **over)[kind]]
  others = (f"; the entries that run {name} set their own {field} "
            f"({', '.join(f'eval_grid.{n}' for n in own)})" if own and parts[0] == "evaluate"
            else "")
  return f"{field} is read only by {name}, which no evaluator that takes it runs ({runs}){others}"
