"""The sweep's files: what each trial is, how it stands; plain JSON, written atomically.

    <sweep>/sweep.json                 the plan of the last invocation (trial ids, swept fields)
    <sweep>/runs/<trial id>/trial.json what the trial is (config, arg, swept values), by the driver
    <sweep>/runs/<trial id>/status.json how it stands, written by the trial itself
    <sweep>/runs/<trial id>/...        its run_experiment workdir (results.csv, report.md, runs/)
    <sweep>/shared/{data,cache,cells}  the data, tfds preparation and cell caches all trials share
    <sweep>/ray/                       Ray Tune's own storage (never restored from: see engine.py)

A status is pending (no status.json), running (a live process on this host, or another host's),
ok, failed (the trial's code raised: error + traceback), or interrupted (its process died or
was stopped; re-running the sweep resumes it from the cell caches and checkpoints).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from typing import Any

STATES = ("ok", "failed", "interrupted", "running", "pending")


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path: str, data: Any) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(data, f, indent=1, sort_keys=True, default=str)
  os.replace(tmp, path)


def read_json(path: str) -> Any:
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return None


def trial_dir(sweep_dir: str, trial_id: str) -> str:
  return os.path.join(sweep_dir, "runs", trial_id)


def shared_dir(sweep_dir: str, what: str) -> str:
  return os.path.join(sweep_dir, "shared", what)


def spec_path(sweep_dir: str, trial_id: str) -> str:
  return os.path.join(trial_dir(sweep_dir, trial_id), "trial.json")


def status_path(sweep_dir: str, trial_id: str) -> str:
  return os.path.join(trial_dir(sweep_dir, trial_id), "status.json")


def read_status(sweep_dir: str, trial_id: str) -> dict[str, Any]:
  """The trial's status record; a "running" one whose process is gone reads "interrupted"."""
  status = read_json(status_path(sweep_dir, trial_id)) or {"status": "pending"}
  if status["status"] == "running" and not _alive(status):
    status = dict(status, status="interrupted",
                  error=status.get("error") or "its process stopped without a result")
  return status


def set_status(sweep_dir: str, trial_id: str, status: str, **fields: Any) -> dict[str, Any]:
  """Updates the trial's status.json (keeps earlier fields such as attempts)."""
  assert status in STATES, status
  record = read_json(status_path(sweep_dir, trial_id)) or {}
  record.update(fields, status=status, updated=_now())
  if status == "running":
    record.update(pid=os.getpid(), host=socket.gethostname(), start=_now(), end=None,
                  error=None, traceback=None, attempts=int(record.get("attempts", 0)) + 1)
  else:
    record["end"] = _now()
  write_json(status_path(sweep_dir, trial_id), record)
  return record


def _alive(status: dict[str, Any]) -> bool:
  if status.get("host") != socket.gethostname():
    return True  # another machine's trial: trust its record
  try:
    os.kill(int(status["pid"]), 0)
  except (ProcessLookupError, KeyError, TypeError, ValueError):
    return False
  except PermissionError:
    return True
  return True


def one_line(error: Any) -> str:
  text = str(error or "").strip().splitlines()
  return text[0][:300] if text else ""
