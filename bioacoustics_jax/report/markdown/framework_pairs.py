"""JAX vs PyTorch in report.md: each `rn18` row beside its `torch:rn18` twin, and every cell's speed.

    pairs = pair_rows(rows)          # dicts: score differences, their seed noise, speed ratios
    lines = pair_section(rows) + speed_section(rows)

A pair is two results rows with the same dataset, split, regime, reducer, clusterer and evaluation
key whose models are `m` and `torch:m`. The difference of a score is JAX minus PyTorch; its seed
noise is sqrt(sd_jax**2 + sd_torch**2) over `evaluate.seeds` (n/a with one seed), shown for
scale. The verdict is the paired test's on NMI (evaluate/paired.py: the same clips, halves and
seeds; its 95 % interval of the difference beside it): "JAX better", "PyTorch better", "no
detectable difference", or "not paired" with the reason (e.g. rows without half-sample scores).
Rows flagged small or degenerate by the evaluator are listed as "not comparable": with a handful
of clips per class any two embeddings can score alike.
Speed ratios are JAX / PyTorch (> 1: JAX faster), from the speed columns of results.csv
(results/schema.py SPEED_COLUMNS).
"""

from __future__ import annotations

import math
from typing import Any

from bioacoustics_jax.cells.cell import TORCH_PREFIX
from bioacoustics_jax.evaluate import paired

_PAIR_KEY = ("dataset", "split", "regime", "reducer", "clusterer", "eval_key")
SCORES = ("nmi", "ari")
SPEEDS = ("extract_examples_per_s", "train_examples_per_s")
_VERDICTS = {paired.A_BETTER: "JAX better", paired.B_BETTER: "PyTorch better",
             paired.NO_DIFFERENCE: paired.NO_DIFFERENCE}


def _finite(v: Any) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _ratio(a: Any, b: Any) -> float:
  return a / b if _finite(a) and _finite(b) and b > 0 else math.nan


def pair_rows(rows: list[dict]) -> list[dict]:
  """One dict per JAX row that has a PyTorch twin (the later row wins on repeats)."""
  torch_rows = {}
  for r in rows:
    if str(r["model"]).startswith(TORCH_PREFIX):
      torch_rows[(r["model"][len(TORCH_PREFIX):],) + tuple(r[c] for c in _PAIR_KEY)] = r
  jax_rows = {}
  for r in rows:
    if not str(r["model"]).startswith(TORCH_PREFIX):
      jax_rows[(r["model"],) + tuple(r[c] for c in _PAIR_KEY)] = r
  out = []
  for key, j in jax_rows.items():
    t = torch_rows.get(key)
    if t is None:
      continue
    pair = {"model": j["model"], **{c: j[c] for c in _PAIR_KEY}}
    comparable = j.get("status", "ok") == "ok" and t.get("status", "ok") == "ok"
    pair["comparable"] = comparable
    for score in SCORES:
      pair[f"{score}_jax"], pair[f"{score}_torch"] = j[score], t[score]
      pair[f"{score}_diff"] = j[score] - t[score]
      sds = [r.get(f"{score}_sd") for r in (j, t)]
      seeded = all((r.get("n_seeds") or 0) > 1 for r in (j, t)) and all(map(_finite, sds))
      pair[f"{score}_noise"] = math.hypot(*sds) if seeded else math.nan
    for speed in SPEEDS:
      pair[f"{speed}_ratio"] = _ratio(j.get(speed), t.get(speed))
    test = paired.compare_rows(j, t, "nmi")  # A = JAX, B = PyTorch
    pair["nmi_diff_lo"], pair["nmi_diff_hi"] = test.lo, test.hi
    if not comparable:
      pair["verdict"] = "not comparable (small set)"
    else:
      pair["verdict"] = _VERDICTS.get(test.verdict, f"not paired: {test.reason}")
    out.append(pair)
  return out


def _f(v: Any, digits: int = 3, signed: bool = False) -> str:
  if not _finite(v):
    return "n/a"
  return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def pair_section(rows: list[dict]) -> list[str]:
  """The "JAX vs PyTorch" section of report.md ([] when the rows hold no pair)."""
  pairs = pair_rows(rows)
  if not pairs:
    return []
  header = ["dataset", "model", "regime", "reducer+clusterer", "NMI JAX", "NMI PyTorch",
            "ΔNMI", "ΔNMI 95 % (paired)", "seed noise", "ΔARI", "extract ex/s JAX/PT", "train ex/s JAX/PT", "verdict"]
  lines = ["## JAX vs PyTorch", "",
           "Each JAX row beside its `torch:` twin (same data, batches, evaluation). Shared by "
           "construction: random-init weights (the torch reference's init at the run's seed, "
           "ported into Flax: `config.random_init`), the fine-tuning head "
           "(models/classifier.py head_init), the training batches and their order, host "
           "augmentation draws, BatchNorm recalibration, the lr grid and its selection. Not "
           "shared: dropout draws, kernels' floating-point order. Δ = JAX − PyTorch; seed noise "
           "= sqrt(sd_JAX² + sd_PT²) over evaluate.seeds; verdict: a paired test of ΔNMI on "
           f"the same clips ({paired.METHOD}; evaluate/paired.py). Speed ratios > 1: JAX "
           "faster.", "",
           "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
  for p in pairs:
    cells = [p["dataset"], p["model"], p["regime"], f"{p['reducer']}+{p['clusterer']}",
             _f(p["nmi_jax"]), _f(p["nmi_torch"]), _f(p["nmi_diff"], signed=True),
             _interval(p["nmi_diff_lo"], p["nmi_diff_hi"]), _f(p["nmi_noise"]), _f(p["ari_diff"], signed=True),
             _f(p["extract_examples_per_s_ratio"], 2), _f(p["train_examples_per_s_ratio"], 2),
             p["verdict"]]
    lines.append("| " + " | ".join(cells) + " |")
  return lines + [""]


def _interval(lo: Any, hi: Any) -> str:
  return f"[{lo:+.3f}, {hi:+.3f}]" if _finite(lo) and _finite(hi) else "n/a"


SPEED_HEADER = ("dataset", "model", "regime", "framework", "device", "dtype", "extract ex/s",
                "compile s", "train ex/s", "s/epoch", "wall s")


def speed_section(rows: list[dict]) -> list[str]:
  """One line per cell (its rows share the speed columns): how fast, on what, in what dtype."""
  cells = {}
  for r in rows:
    if r.get("framework"):
      cells[r["cell_key"]] = r
  if not cells:
    return []
  lines = ["## Speed", "",
           "Per cell: extraction examples/s with the compile (or eager warm-up) excluded and "
           "its seconds apart; fine-tuning examples/s and seconds per epoch (median over the "
           "epochs after the first); wall seconds of training + extraction (when computed, "
           "not when loaded from the cache).", "",
           "| " + " | ".join(SPEED_HEADER) + " |", "|" + "|".join("---" for _ in SPEED_HEADER) + "|"]
  for r in cells.values():
    dtype = r["dtype"] + (f" (train {r['train_dtype']})" if r.get("train_dtype") else "")
    device = f"{r['device_kind']} x{r['device_count']}"
    lines.append("| " + " | ".join([
        r["dataset"], r["model"], r["regime"], r["framework"], device, dtype,
        _f(r["extract_examples_per_s"], 1), _f(r["extract_compile_s"], 2),
        _f(r["train_examples_per_s"], 1), _f(r["train_epoch_s"], 2), _f(r["wall_s"], 1)]) + " |")
  return lines + [""]
