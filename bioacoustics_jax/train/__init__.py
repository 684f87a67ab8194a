"""Fine-tuning: data-parallel training with optax and orbax, resumable, best epoch kept.

Public API:
  config.default_train_config() -> ConfigDict      the paper's protocol; embed as config.train
  finetune.finetune(backbone: zoo.Backbone, train_split, valid_split, train_config, workdir,
                    *, variables=None)
      -> (backbone variables, TrainResult)         lr sweep, best epoch on valid acc / mAP
  step.make_train_step / make_eval_step            the per-device step (loss + update), run by
                                                   parallel/'s pmap and shard_map runners
  checkpointing.best_variables(workdir) -> (Classifier variables, meta)
  loop.fit(TrainTask, train_config, workdir, learning_rate=) -> (variables, TrainResult)
      the model/data-agnostic core (any module, frontend and batch factories)

Files: config (keys), loop (epochs, checkpoints, guards: one `_Fit` object per fit() call
holds the run's state as named attributes), validation (the per-epoch validation pass),
state (TrainState), optimizer (optax chain, schedules, freezing), losses, metrics (accuracy, mAP),
checkpointing (orbax managers), logbook (metrics.jsonl, TensorBoard), step (the per-device
train/eval step), finetune (Backbone + pipeline glue). parallel/ is the mechanism only: mesh,
multi-host start-up and the pmap / shard_map runners of the step.
"""
