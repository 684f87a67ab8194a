r"""Fine-tuning on a small set (issue 10): eval-mode collapse, frozen vs fine-tuned NMI, epoch cost.

    nice python experiments/perf/small_set_finetune.py --width 16 --epochs 20 \
        --bn_recalibration precise off --out experiments/perf/results/small_set_cpu.json

The set is tests/train/small_set.py: 3 synthetic species, 22 train / 11 valid / 23 test clips
of 1.5 s at 22.05 kHz (the shape of the real-recordings case in the issue; no real recordings
ship in any installed package here). Model: the paper's rn18 (random init, paper_mel3 input),
`--width` shrinks it (64 = full size). Batch 32, so an epoch is one padded step, Adam.

For each setting it reports: best epoch and validation accuracy; eval-mode and train-mode
accuracy of the selected weights on their own training clips (computed here on the real rows
only, so it means the same on old code); UMAP+k-means and k-means NMI of the test embeddings,
frozen random init vs fine-tuned (the suite's ClusteringEvaluator); and timing: the bare train
step (same step function, same batch, timed alone) against the period between validations,
`overhead = epoch / step - 1` (the bare step uses the configured batch, 32 rows). The same
script runs another checkout's code (`--code /path/to/old`) for before/after numbers; it uses
only APIs both have. Where the trainer writes them, metrics.jsonl's `epoch_time` rows split each
epoch into steps (with the input pipeline), recalibration, validation and checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _accuracies(classifier, variables, prepare, rate, split):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  out = {"eval_mode": [], "train_mode": []}
  labels = []
  for batch in split.numpy_batches(batch_size=32, sample_rate=rate):
    keep = batch["mask"].astype(bool)
    x = prepare(batch["audio"][keep], rate)  # real rows only: no padding in any BN
    out["eval_mode"].append(np.asarray(classifier.apply(variables, x)[0]).argmax(-1))
    (logits, _), _ = classifier.apply(variables, x, train=True, mutable=["batch_stats"],
                                      rngs={"dropout": jax.random.key(0)})
    out["train_mode"].append(np.asarray(logits).argmax(-1))
    labels.append(batch["label"][keep])
  labels = np.concatenate(labels)
  return {k: float(np.mean(np.concatenate(v) == labels)) for k, v in out.items()}


def _nmi(module, variables, prepare, rate, split, seed=42):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.embed.embedding_set import EmbeddingSet  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.evaluate.evaluator import ClusteringEvaluator  # pylint: disable=g-import-not-at-top
  feats, labels = [], []
  for batch in split.numpy_batches(batch_size=32, sample_rate=rate):
    keep = batch["mask"].astype(bool)
    _, inter = module.apply(variables, prepare(batch["audio"][keep], rate))
    feats.append(np.asarray(inter["embedding"]))
    labels.append(batch["label"][keep])
  feats, labels = np.concatenate(feats), np.concatenate(labels)
  es = EmbeddingSet(feats, labels, [str(i) for i in range(len(labels))],
                    list(split.info.class_names))
  rows = ClusteringEvaluator(reducers=("umap", "none"), clusterers=("kmeans",), seed=seed,
                             umap_n_neighbors=10, log=None).evaluate(es).rows
  return {f"{r['reducer']}+kmeans": float(r["nmi"]) for r in rows}


def _bare_step_seconds(backbone, cfg, split, rate, repeats):
  import jax  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models.classifier import Classifier  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.parallel import data_parallel  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train.state import TrainState  # pylint: disable=g-import-not-at-top
  module = Classifier(backbone.training_module(cross_replica_bn=True), split.info.num_classes)
  batch = next(split.numpy_batches(batch_size=cfg.batch_size, sample_rate=rate, train=True))
  variables = module.init(jax.random.key(0), backbone.recipe.prepare(batch["audio"][:1], rate))
  step = step_lib.make_train_step(module, backbone.recipe.prepare, rate, task="classification",
                                  num_classes=split.info.num_classes)
  runner = data_parallel.DataParallel(step, cfg.parallel)
  state = runner.put_state(TrainState.create(variables, optax.adam(1e-4)))
  times = []
  for i in range(repeats + 1):
    start = time.perf_counter()
    state, out = runner.step(state, runner.put_batch(batch), jax.random.key(0))
    float(out["loss"])
    if i:  # the first call compiles
      times.append(time.perf_counter() - start)
  return statistics.median(times)


def _small_set():
  # By file path: with --code pointing at another checkout, `tests` may be that checkout's.
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = os.path.join(ROOT, "tests", "train", "small_set.py")
  spec = importlib.util.spec_from_file_location("small_set", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def run(args, mode):
  import jax  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax import zoo  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.models.classifier import Classifier  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import checkpointing  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import config as config_lib  # pylint: disable=g-import-not-at-top
  from bioacoustics_jax.train import finetune as finetune_lib  # pylint: disable=g-import-not-at-top
  small_set = _small_set()

  train, valid, test = small_set.splits(args.data)
  overrides = {} if args.width == 64 else {"width": args.width}
  backbone = zoo.resolve("rn18", overrides)
  rate = backbone.input_rate(train.info.sample_rate)
  cfg = config_lib.default_train_config()
  cfg.update(dict(batch_size=32, eval_batch_size=32, num_epochs=args.epochs,
                  learning_rates=tuple(args.lrs), tensorboard=False, progress_bar=False))
  if "bn_recalibration" in cfg:
    cfg.bn_recalibration = mode
  elif mode != "off":
    raise SystemExit("this checkout has no train.bn_recalibration; run it with 'off' only")
  workdir = os.path.join(args.workdir, f"{mode}_w{args.width}")
  start = time.perf_counter()
  tuned, result = finetune_lib.finetune(backbone, train, valid, cfg, workdir)
  fit_seconds = time.perf_counter() - start
  classifier_vars, _ = checkpointing.best_variables(result.workdir)
  classifier = Classifier(backbone.module, train.info.num_classes)
  sample = backbone.recipe.prepare(jax.numpy.zeros((1, train.info.num_samples(rate))), rate)
  frozen = backbone.init_variables(jax.random.key(cfg.seed), sample)
  periods, phases = [], {}
  for lr_run in json.load(open(os.path.join(workdir, "sweep.json")))["runs"]:
    rows = [json.loads(line) for line in open(os.path.join(lr_run["workdir"], "metrics.jsonl"))]
    times = [r["time"] for r in rows if r["kind"] == "valid"]
    periods += [b - a for a, b in zip(times[1:], times[2:])]  # epochs 2.. (no compile)
    for r in rows:
      if r["kind"] == "epoch_time" and r["epoch"] >= 2:
        for k, v in r.items():
          if k.endswith("_seconds"):
            phases.setdefault(k, []).append(v)
  epoch = statistics.median(periods)
  # Phases absent from an epoch (no checkpoint that epoch) count as 0 for it.
  n_epochs = len(phases.get("epoch_seconds", []))
  phases = {k: round(sum(v) / max(n_epochs, 1), 4) for k, v in phases.items()}
  step = _bare_step_seconds(backbone, cfg, train, rate, args.repeats)
  out = {
      "bn_recalibration": mode, "width": args.width, "epochs": args.epochs,
      "learning_rates": list(args.lrs), "selected_learning_rate": result.learning_rate,
      "best_epoch": result.best_epoch, "best_valid_accuracy": result.best_metric,
      "valid_majority_rate": 5 / 11,
      "valid_curve": [round(h.get("accuracy", float("nan")), 3) for h in result.history],
      "train_accuracy": _accuracies(classifier, classifier_vars, backbone.recipe.prepare, rate,
                                    train),
      "nmi_frozen": _nmi(backbone.module, frozen, backbone.recipe.prepare, rate, test),
      "nmi_finetuned": _nmi(backbone.module, tuned, backbone.recipe.prepare, rate, test),
      "epoch_seconds": round(epoch, 3), "bare_step_seconds": round(step, 3),
      "epoch_overhead": round(epoch / step - 1.0, 3), "fit_seconds": round(fit_seconds, 1),
      "mean_phase_seconds": phases,
      "devices": jax.device_count(),
  }
  print(json.dumps(out), flush=True)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--width", type=int, default=16)
  parser.add_argument("--epochs", type=int, default=20)
  parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3])
  parser.add_argument("--bn_recalibration", nargs="+", default=["precise", "off"])
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--data", default="/tmp/small_set_data")
  parser.add_argument("--workdir", default="/tmp/small_set_runs")
  parser.add_argument("--label", default="", help="free text stored with the results")
  parser.add_argument("--out", default="")
  parser.add_argument("--code", default=ROOT,
                      help="checkout whose bioacoustics_jax runs (another one = 'before')")
  args = parser.parse_args()
  sys.path.insert(0, os.path.abspath(args.code))
  import bioacoustics_jax.torch_compat  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  results = [run(args, mode) for mode in args.bn_recalibration]
  if args.out:
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
      json.dump({"command": " ".join(sys.argv), "label": args.label,
                 "code": os.path.abspath(args.code), "results": results}, f, indent=1)


if __name__ == "__main__":
  main()
