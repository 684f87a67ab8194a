"""Fine-tuning: data-parallel training with optax and orbax, resumable, best epoch kept.

Public API:
  config.default_train_config() -> ConfigDict      the paper's protocol; embed as config.train
  finetune.finetune(spec_name, train_split, valid_split, train_config, workdir, *,
                    variables=None, module_overrides=None, weights_dir=None)
      -> (backbone variables, TrainResult)         lr sweep, best epoch on valid acc / mAP
  finetune.train_and_evaluate(config, workdir) -> TrainResult
  checkpointing.best_variables(workdir) -> (Classifier variables, meta)
  loop.fit(TrainTask, train_config, workdir, learning_rate=) -> (variables, TrainResult)
      the model/data-agnostic core (any module, frontend and batch factories)

Files: config (keys), loop (epochs, validation, checkpoints, guards), state (TrainState),
optimizer (optax chain, schedules, freezing), losses, metrics (accuracy, mAP),
checkpointing (orbax managers), logbook (metrics.jsonl, TensorBoard), finetune (registry +
pipeline glue). The per-device step and its pmap / shard_map runners are in parallel/.
"""
