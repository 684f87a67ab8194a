"""Sweeps as data, no Ray: expansion with `arg`, content-hash trial ids, validation before any
trial, statuses, and the aggregate csv / report / --status built from trial folders."""

import csv
import os
import textwrap

import pytest

from launch import config_loader
from launch.sweeps import driver as sweep_main
from launch.sweeps import aggregate
from launch.sweeps import engine
from launch.sweeps import ledger
from launch.sweeps import plan
from launch.sweeps import trial

CONFIG = textwrap.dedent('''
    """Test config: python -m launch.run --config=this.py"""
    import ml_collections

    def get_config(arg=None):
      c = ml_collections.ConfigDict()
      c.models = ("rn18",) if arg != "alex" else ("alex",)
      c.evaluate = ml_collections.ConfigDict(dict(umap_min_dist=0.5, seed=42))
      c.data = ml_collections.ConfigDict(dict(split="test", root="", cache_dir=""))
      return c.lock()

    def sweep(add, arg=None):
      for min_dist in MIN_DISTS:
        add({"evaluate.umap_min_dist": min_dist})
      add(arg="alex")
    ''')


def _write(tmp_path, min_dists=(0.1, 0.5), name="cfg.py"):
  path = tmp_path / name
  path.write_text(CONFIG.replace("MIN_DISTS", repr(tuple(min_dists))))
  return str(path)


def test_trials_have_content_ids_stable_under_reorder_and_edit(tmp_path):
  p = plan.make_plan(_write(tmp_path))
  assert [t.config.evaluate.umap_min_dist for t in p.trials] == [0.1, 0.5, 0.5]
  assert p.trials[2].config.models == ("alex",) and p.trials[2].arg == "alex"
  assert p.swept == ["arg", "evaluate.umap_min_dist"]
  ids = {t.config.evaluate.umap_min_dist: t.id for t in p.trials[:2]}
  # Reordered and a value added in front: the unchanged trials keep their ids.
  edited = plan.make_plan(_write(tmp_path, (0.3, 0.5, 0.1), name="edited.py"))
  new_ids = {t.config.evaluate.umap_min_dist: t.id for t in edited.trials[:3]}
  assert new_ids[0.1] == ids[0.1] and new_ids[0.5] == ids[0.5] and len(set(new_ids.values())) == 3
  assert edited.trials[3].id == p.trials[2].id


def test_cli_overrides_are_typed_and_apply_to_every_trial(tmp_path):
  p = plan.make_plan(_write(tmp_path), {"evaluate.seed": "7"})
  assert {t.config.evaluate.seed for t in p.trials} == {7}
  with pytest.raises(plan.SweepError, match="evaluate.seed.*str.*int"):
    plan.make_plan(_write(tmp_path), {"evaluate.seed": "'seven'"})
  rest, overrides = config_loader.split_cli_overrides(["prog", "--config.a.b=1", "--workdir=w"])
  assert rest == ["prog", "--workdir=w"] and overrides == {"a.b": "1"}


@pytest.mark.parametrize("entry,match", [
    ('{"evaluate.umap_min_dits": 0.1}', "sweep entry 1 .*unknown key 'evaluate.umap_min_dits'"),
    ('{"evaluat.seed": 1}', "unknown key 'evaluat.seed'.*nearest keys: "),
    ('{"evaluate.seed": "1"}', "sweep entry 1 .*evaluate.seed='1' is a str; the field is a int"),
    ('{"evaluate.umap_min_dist": True}', "is a bool; the field is a float"),
    ('{"models": "rn18"}', "models='rn18' is a str; the field is a tuple"),
])
def test_bad_entries_name_the_entry_and_key(tmp_path, entry, match):
  path = tmp_path / "bad.py"
  path.write_text(CONFIG.replace('add(arg="alex")', f"add({entry})").replace("MIN_DISTS", "(0.1,)"))
  with pytest.raises(plan.SweepError, match=match):
    plan.make_plan(str(path))


def test_duplicates_are_warned_and_run_once(tmp_path):
  p = plan.make_plan(_write(tmp_path, (0.5, 0.1, 0.5)))
  assert len(p.trials) == 3 and list(p.duplicates.values()) == [[0, 2]]
  assert "entries [0, 2]" in p.warnings()[0]


def test_config_checks_run_on_every_trial_before_any_runs(tmp_path):
  def check(config):
    if config.evaluate.umap_min_dist > 0.4:
      raise ValueError("--config.evaluate.umap_min_dist too large")
  with pytest.raises(plan.SweepError, match="sweep entry 1 .*umap_min_dist too large"):
    plan.make_plan(_write(tmp_path), check=check)


def test_compatibility_is_checked_up_front_naming_model_dataset_and_trials(tmp_path):
  """VGGish (0.975 s window) on the tiny bats clips (0.15 s): refused before anything runs."""
  from launch.sweeps import checks
  cfg = tmp_path / "qs.py"
  cfg.write_text(textwrap.dedent('''
      from experiments.configs import quickstart
      def get_config(arg=None):
        return quickstart.get_config("smoke=true,datasets=synth_bats+synth_birds")
      def sweep(add):
        add(models=("rn18",))
        add(models=("rn18", "vggish"))
      '''))
  p = plan.make_plan(str(cfg))
  with pytest.raises(plan.SweepError) as info:
    checks.check_compatibility(p.trials, lambda t: str(tmp_path / "data"))
  text = str(info.value)
  assert "vggish x synth_bats (0.15 s clips at 192000 Hz)" in text and "0.975" in text
  assert p.trials[1].id in text and p.trials[0].id not in text
  assert "synth_birds" not in text  # 1 s clips: VGGish reads them


def test_select_split_equal_to_evaluated_split_is_refused(tmp_path):
  p = plan.make_plan(_write(tmp_path), {"data.split": "valid"})
  with pytest.raises(plan.SweepError, match="evaluates data.split='valid', the selection split"):
    sweep_main.check_select_split(p, "valid")
  sweep_main.check_select_split(p, "train")


def test_unreachable_ray_address_fails_fast():
  with pytest.raises(engine.RayAddressError, match="127.0.0.1:9.*unreachable"):
    engine.probe("127.0.0.1:9", timeout_s=2)
  with pytest.raises(engine.RayAddressError, match="expected host:port"):
    engine.probe("nowhere", timeout_s=1)


def _fake_runner(fail_on=None):
  """Stands in for run_experiment (the Ray tests run the real one): one results row per split."""
  from bioacoustics_jax.results import store as results_lib

  def run(config, workdir, argv=None, cells_dir=None):
    if config.evaluate.umap_min_dist == fail_on:
      raise RuntimeError("made to fail\nsecond line")
    row = {c: "" for c in results_lib.RESULT_COLUMNS}
    row.update(dataset="d", model=config.models[0], regime="frozen", split=config.data.split,
               reducer="pca", clusterer="kmeans", cell_key="k", eval_key="e", run_id="r",
               nmi=config.evaluate.umap_min_dist + (0.5 if config.data.split == "test" else 0),
               ari=0.25)
    results_lib.append_rows(os.path.join(workdir, "results.csv"), [row])
    return workdir
  return run


def test_statuses_failures_and_aggregates_without_ray(tmp_path):
  cfg, sweep_dir = _write(tmp_path, (0.1, 0.3)), str(tmp_path / "s")
  p = plan.make_plan(cfg)
  sweep_main.write_plan(sweep_dir, cfg, p, "valid")
  assert sweep_main.to_run(sweep_dir, p, retry_failed=False)[0] == [t.id for t in p.trials]
  results = [trial.run(sweep_dir, t.id, runner=_fake_runner(fail_on=0.3)) for t in p.trials]
  assert results == ["ok", "failed", "ok"]
  failed = ledger.read_status(sweep_dir, p.trials[1].id)
  assert failed["error"].startswith("RuntimeError: made to fail") and "Traceback" in \
      failed["traceback"]
  ids, seen = sweep_main.to_run(sweep_dir, p, retry_failed=False)
  assert ids == [] and seen["ok"] == 2 and seen["failed"] == 1
  assert sweep_main.to_run(sweep_dir, p, retry_failed=True)[0] == [p.trials[1].id]
  results_csv, report_md = aggregate.write_all(sweep_dir)
  with open(results_csv) as f:
    rows = list(csv.DictReader(f))
  assert [r["trial_status"] for r in rows] == ["ok", "ok", "failed", "ok", "ok"]
  assert rows[0]["evaluate.umap_min_dist"] == "0.1" and rows[-1]["arg"] == "alex"
  assert rows[2]["error"] == "RuntimeError: made to fail" and rows[2]["nmi"] == ""
  report = open(report_md).read()
  assert "3 trials: 2 ok, 1 failed, 0 interrupted, 0 running, 0 pending." in report
  # Chosen on valid (alex's 0.5 beats rn18's 0.1 only within its own model: two groups, each
  # with one setting, so nothing to test).
  assert f"| d | rn18 | frozen | only setting | {p.trials[0].id} |" in report
  assert "| 0.1000 | 0.6000 |" in report
  status = aggregate.status_table(sweep_dir)
  assert status.startswith("ok=2  failed=1") and "made to fail" in status
  assert "second line" not in status


def _scored(split, nmi, offsets=(0.01, -0.01, 0.02, -0.02), eval_key="e"):
  """A results row with half-sample NMI (evaluate/paired.py pairs rows by clips and seeds)."""
  return dict(dataset="d", model="m", regime="frozen", split=split, reducer="pca",
              clusterer="kmeans", nmi=nmi, n=60, clips_key=f"clips-{split}", eval_key=eval_key,
              eval_seed=42, n_seeds=5, nmi_halves=" ".join(str(nmi + o) for o in offsets))


def test_best_is_chosen_on_valid_never_on_test(tmp_path):
  """Trial A is better on valid, B on test: the report must pick A and show A's test score."""
  plan_json = {"select_split": "valid", "eval_split": "test"}
  trials = [{"id": "A", "swept": {}, "rows": [_scored("valid", 0.9), _scored("test", 0.2)]},
            {"id": "B", "swept": {}, "rows": [_scored("valid", 0.1), _scored("test", 0.99)]}]
  (choice,) = aggregate.best_choices(plan_json, trials)
  assert choice["trial_id"] == "A" and choice["test"]["nmi"] == 0.2
  assert choice["decision"] == "chosen"


def test_a_choice_the_paired_test_cannot_make_is_a_tie(tmp_path):
  """Settings of other trials (other eval keys) are paired on their shared halves; one within
  the noise of the best, or one without half-sample scores, makes the group a tie."""
  plan_json = {"select_split": "valid", "eval_split": "test"}
  best, poor = _scored("valid", 0.6, eval_key="e1"), _scored("valid", 0.3, eval_key="e2")
  close = _scored("valid", 0.58, offsets=(0.06, -0.05, 0.05, -0.06), eval_key="e3")
  trials = [{"id": t, "swept": {}, "rows": [r, _scored("test", 0.5)]}
            for t, r in (("A", best), ("B", poor), ("C", close))]
  (choice,) = aggregate.best_choices(plan_json, trials)
  assert choice["trial_id"] == "A" and choice["decision"] == "tie with 1 of 2"
  (choice,) = aggregate.best_choices(plan_json, trials[:2])
  assert choice["decision"] == "chosen"
  unpaired = [trials[0], {"id": "B", "swept": {}, "rows": [dict(poor, nmi_halves="")]}]
  assert aggregate.best_choices(plan_json, unpaired)[0]["decision"] == "tie with 1 of 1"
  report = open(aggregate.write_report(str(tmp_path), plan_json | {"config": "c.py"},
                                       [dict(t, status={"status": "ok"}) for t in trials])).read()
  assert "| d | m | frozen | tie with 1 of 2 | A |" in report and "paired test" in report


def test_a_killed_trial_reads_interrupted_and_is_resumed(tmp_path):
  cfg, sweep_dir = _write(tmp_path, (0.1,)), str(tmp_path / "s")
  p = plan.make_plan(cfg)
  sweep_main.write_plan(sweep_dir, cfg, p, "valid")
  ledger.set_status(sweep_dir, p.trials[0].id, "running")
  record = ledger.read_json(ledger.status_path(sweep_dir, p.trials[0].id))
  record["pid"] = 2 ** 22 + 1  # above pid_max: no such process
  ledger.write_json(ledger.status_path(sweep_dir, p.trials[0].id), record)
  assert ledger.read_status(sweep_dir, p.trials[0].id)["status"] == "interrupted"
  assert p.trials[0].id in sweep_main.to_run(sweep_dir, p, retry_failed=False)[0]


def test_sweep_sees_the_config_arg(tmp_path):
  path = tmp_path / "arg.py"
  path.write_text(CONFIG.split("def sweep")[0] + textwrap.dedent('''
      def sweep(add, arg=None):
        add({"evaluate.seed": 1 if arg is None else 2})
      '''))
  (plain,) = plan.make_plan(str(path)).trials
  (alex,) = plan.make_plan(f"{path}:alex").trials
  assert plain.config.evaluate.seed == 1 and plain.config.models == ("rn18",)
  assert alex.config.evaluate.seed == 2 and alex.config.models == ("alex",) and alex.arg == "alex"
