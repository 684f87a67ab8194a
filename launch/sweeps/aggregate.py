"""The sweep's aggregate outputs, rebuilt from the trial folders (atomically, any time):

  sweep_results.csv  one row per results row of every trial (a trial without results: one row),
                     with the trial id, its status, one column per swept field (full values,
                     JSON for tuples and dicts) and the error of a failed trial
  sweep_report.md    progress counts; failures with their one-line errors; per dataset x model x
                     regime the best trial (+ reducer, clusterer) chosen on the selection split
                     (valid), never on test, and the test scores of that choice. A setting is
                     chosen only when a paired test on the valid clips (evaluate/paired.py
                     `winner`, across settings: the same clips, halves and seeds) finds it
                     better than every other; otherwise the group reads "tie" (the highest is
                     still named, as no choice)
  status_table()     the --status view: counts and the failures' one-line errors
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

from bioacoustics_jax.evaluate import paired
from bioacoustics_jax.results import schema
from bioacoustics_jax.results import store as results_lib
from launch.sweeps import ledger

CHOICE = ("reducer", "clusterer")  # settings chosen per row, besides the swept fields


def _cell(value: Any) -> str:
  if value is None:
    return ""
  if isinstance(value, (tuple, list, dict)):
    return json.dumps(value, sort_keys=True, default=str)
  return str(value)


def _write_atomic(path: str, text: str) -> str:
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w", newline="") as f:
    f.write(text)
  os.replace(tmp, path)
  return path


def load(sweep_dir: str) -> tuple[dict, list[dict]]:
  """(sweep.json, [{"id", "swept": {key: value}, "status": {...}, "rows": [...]}])."""
  plan = ledger.read_json(os.path.join(sweep_dir, "sweep.json"))
  if plan is None:
    raise FileNotFoundError(f"{sweep_dir}/sweep.json is missing: not a sweep directory (run "
                            "launch.sweep there first).")
  trials = []
  for tid in plan["trials"]:
    spec = ledger.read_json(ledger.spec_path(sweep_dir, tid)) or {}
    csv_path = os.path.join(ledger.trial_dir(sweep_dir, tid), "results.csv")
    rows = results_lib.read_results(csv_path) if os.path.exists(csv_path) else []
    trials.append({"id": tid, "swept": spec.get("swept", {}), "rows": rows,
                   "status": ledger.read_status(sweep_dir, tid)})
  return plan, trials


def counts(trials: list[dict]) -> dict[str, int]:
  out = {s: 0 for s in ledger.STATES}
  for t in trials:
    out[t["status"]["status"]] += 1
  return out


def write_results_csv(sweep_dir: str, plan: dict, trials: list[dict]) -> str:
  swept = list(plan["swept"])
  columns = ["trial_id", "trial_status", *swept, *schema.RESULT_COLUMNS, "error"]
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
  writer.writeheader()
  for t in trials:
    head = {"trial_id": t["id"], "trial_status": t["status"]["status"],
            "error": ledger.one_line(t["status"].get("error")),
            **{k: _cell(t["swept"].get(k)) for k in swept}}
    for row in t["rows"] or [{}]:
      writer.writerow({**{c: _cell(row.get(c)) for c in schema.RESULT_COLUMNS}, **head})
  return _write_atomic(os.path.join(sweep_dir, "sweep_results.csv"), buf.getvalue())


def best_choices(plan: dict, trials: list[dict], metric: str = "nmi") -> list[dict]:
  """Per (dataset, model, regime): the row with the highest `metric` on the selection split,
  whether the paired test chose it (`decision`), and the same trial's row on the evaluated split
  with the same reducer and clusterer."""
  select, evaluated = plan.get("select_split"), plan.get("eval_split", "test")
  groups: dict[tuple, list[tuple[dict, dict]]] = {}
  for t in trials:
    for row in t["rows"]:
      value = row.get(metric)
      if row["split"] != select or not isinstance(value, float) or math.isnan(value):
        continue
      groups.setdefault((row["dataset"], row["model"], row["regime"]), []).append((row, t))
  out = []
  for group, candidates in sorted(groups.items()):
    row, t = max(candidates, key=lambda c: c[0][metric])  # the first of equal maxima
    test = next((r for r in t["rows"] if r["split"] == evaluated and
                 all(r[k] == row[k] for k in ("dataset", "model", "regime", *CHOICE))), None)
    out.append({"dataset": group[0], "model": group[1], "regime": group[2], "trial_id": t["id"],
                "swept": t["swept"], **{k: row[k] for k in CHOICE},
                f"{select}_{metric}": row[metric], "test": test,
                "decision": decision(row, [c[0] for c in candidates], metric)})
  return out


def decision(best: dict, rows: list[dict], metric: str = "nmi") -> str:
  """"chosen" when the paired test finds `best` better than every other row on the selection
  split, "only setting" when there is no other, else "tie with k of n" (k rows not told apart)."""
  others = [r for r in rows if r is not best]
  if not others:
    return "only setting"
  if paired.winner(rows, metric, across_settings=True) is best:
    return "chosen"
  tied = [r for r in others
          if paired.compare_rows(best, r, metric, across_settings=True).verdict != paired.A_BETTER]
  return f"tie with {len(tied)} of {len(others)}"


def write_report(sweep_dir: str, plan: dict, trials: list[dict], metric: str = "nmi") -> str:
  c = counts(trials)
  select, evaluated = plan.get("select_split"), plan.get("eval_split", "test")
  lines = [f"# Sweep report: {plan.get('config', '')}", "",
           f"{len(trials)} trials: " + ", ".join(f"{n} {s}" for s, n in c.items()) + ".", ""]
  failed = [t for t in trials if t["status"]["status"] in ("failed", "interrupted")]
  if failed:
    lines += ["## Failed or interrupted trials", "", "| trial | status | swept | error |",
              "|---|---|---|---|"]
    lines += [f"| {t['id']} | {t['status']['status']} | {_md(_cell(t['swept']))} | "
              f"{_md(ledger.one_line(t['status'].get('error')))} |" for t in failed]
    lines += ["", "Tracebacks: runs/<trial>/status.json.", ""]
  lines += [f"## Best settings per dataset x model x regime (chosen on {select} {metric}, "
            f"scored on {evaluated})", "",
            f"A setting is chosen only when a paired test on the {select} clips finds it "
            f"better than every other setting of its group ({paired.METHOD}; "
            "evaluate/paired.py, across settings that share the clips, eval seed and halves). "
            "\"tie with k of n\": the highest is named but not chosen, since k of the n other "
            "settings are not detectably worse (or cannot be paired: rows without half-sample "
            "scores, other eval seeds).", ""]
  choices = best_choices(plan, trials, metric) if select else []
  if not choices:
    lines += [f"No {select or 'selection-split'} rows yet: nothing chosen (a choice is never "
              "made on the test split)." if select else
              "No selection split (--select_split=''): nothing chosen, since a choice is "
              "never made on the test split.", ""]
  else:
    lines += [f"| dataset | model | regime | decision | trial | swept | reducer | clusterer | "
              f"{select} {metric} | {evaluated} nmi | {evaluated} ari |", "|" + "---|" * 11]
    for ch in choices:
      test = ch["test"] or {}
      lines.append(f"| {ch['dataset']} | {ch['model']} | {ch['regime']} | {ch['decision']} | "
                   f"{ch['trial_id']} | {_md(_cell(ch['swept']))} | {ch['reducer']} | "
                   f"{ch['clusterer']} | {ch[f'{select}_{metric}']:.4f} | "
                   f"{_num(test.get('nmi'))} | {_num(test.get('ari'))} |")
  return _write_atomic(os.path.join(sweep_dir, "sweep_report.md"), "\n".join(lines) + "\n")


def status_table(sweep_dir: str) -> str:
  """Counts, then one line per trial that is not ok (failures with their one-line error)."""
  plan, trials = load(sweep_dir)
  c = counts(trials)
  lines = ["  ".join(f"{s}={n}" for s, n in c.items()) + f"  (of {len(trials)})"]
  for t in trials:
    st = t["status"]
    if st["status"] != "ok":
      lines.append(f"{st['status']:<11} {t['id']}  {_cell(t['swept'])}"
                   + (f"  {ledger.one_line(st.get('error'))}" if st.get("error") else ""))
  return "\n".join(lines)


def write_all(sweep_dir: str, metric: str = "nmi") -> tuple[str, str]:
  plan, trials = load(sweep_dir)
  return write_results_csv(sweep_dir, plan, trials), write_report(sweep_dir, plan, trials, metric)


def _md(text: str) -> str:
  return text.replace("|", "\\|")


def _num(value: Any) -> str:
  return f"{value:.4f}" if isinstance(value, float) else "-"
