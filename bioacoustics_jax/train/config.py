"""`default_train_config()`: the paper's fine-tuning protocol, every key documented.

Experiment configs embed it as `config.train` and override keys from the command line
(`--config.train.num_epochs=5`). Defaults follow PAPER.md ("Fine-tuning (BEANS protocol)"):
Adam on all parameters, batch 32, lr grid {1e-5, 5e-5, 1e-4, 5e-4}, up to 50 epochs, the best
epoch (and lr) chosen on validation accuracy (classification) or mAP (detection), seed 42.
"""

from __future__ import annotations

import ml_collections

# train.frontend_batch: the input recipe runs on the gathered global batch or on each device's
# rows ("auto": as the task says, TrainTask.frontend_on_global_batch).
FRONTEND_BATCH = ("auto", "global", "device")


def augment_config() -> ml_collections.ConfigDict:
  """Training-only augmentation (bioacoustics_jax/data/augment.py); all off by default (paper)."""
  return ml_collections.ConfigDict(dict(
      # Host side, on numpy batches (seeded by (seed, epoch, step), so resumable):
      background_prob=0.0,        # chance a training clip gets a background soundscape mixed in
      background_dir="",          # folder of noise wavs; "" = use the split's background windows
                                  # (detection) when background_prob > 0
      snr_db=(0.0, 20.0),         # mixing SNR range in dB (uniform)
      time_shift_seconds=0.0,     # random circular shift by up to +-this many seconds
      # Device side, inside the jitted step after the input recipe:
      freq_masks=0,               # SpecAugment: number of frequency masks per example
      freq_mask_width=0,          # max width (bins) of each frequency mask
      time_masks=0,               # SpecAugment: number of time masks per example
      time_mask_width=0,          # max width (frames) of each time mask
      mixup_alpha=0.0,            # >0: mixup with lambda ~ Beta(alpha, alpha) on inputs+targets
  ))


def default_train_config() -> ml_collections.ConfigDict:
  """Returns the fine-tuning config (see the comment on each key)."""
  return ml_collections.ConfigDict(dict(
      # --- protocol (paper) ---
      seed=42,                    # params init of the head, data order, augmentation, dropout
      batch_size=32,              # GLOBAL batch, split over all devices of all processes
      num_epochs=50,              # epochs per learning rate
      learning_rate=1e-4,         # used when learning_rates is empty
      learning_rates=(1e-5, 5e-5, 1e-4, 5e-4),  # the lr sweep; finetune() keeps the best on
                                  # validation. Empty tuple = train once at learning_rate.
      grid_members=0,             # learning rates trained together in one compiled program
                                  # (train/grid_fit.py): 0 = auto (as many as the memory
                                  # estimate allows), 1 = one at a time, N = at most N
      select_metric="auto",       # "auto" (accuracy for classification, map for detection),
                                  # "accuracy", "map" or "loss" (lower is better)
      # --- optimizer ---
      optimizer="adam",           # "adam" | "adamw" (decoupled weight decay) | "sgd" (momentum .9)
      weight_decay=0.0,           # adamw / sgd weight decay, applied to >=2-D params only
      grad_clip_norm=0.0,         # >0: clip by global norm before the update
      schedule="constant",        # "constant" | "cosine" (decay to 0 over training) | "linear"
      warmup_steps=0,             # linear warm-up from 0 to the lr (any schedule)
      freeze_prefixes=(),         # extra parameter-path prefixes to freeze (like
                                  # spec.frozen_prefixes, which are always frozen), e.g.
                                  # "backbone/conv1"; paths are relative to the Classifier
                                  # params ("backbone/...", "head/...") or to the backbone.
      # --- compute ---
      parallel="shard_map",       # "shard_map" (jit + shard_map over a "data" mesh) | "pmap"
      mixed_precision="auto",     # "auto" (bf16 compute on GPU/TPU, float32 on CPU) | "bf16"
                                  # | "off". Params, optimizer state and BN stats stay float32.
      cross_replica_bn=True,      # BatchNorm statistics over the global batch (modules with a
                                  # `bn_axis_name` field); else per-device stats, pmean-ed after
                                  # each step so every replica holds the same batch_stats.
      regularization="original",  # "original": the train-mode regularisation of the original
                                  # models (zoo preset train_kwargs: Swin-S stochastic depth 0.3,
                                  # HuBERT/AVES dropout 0.1, attention dropout 0.1, LayerDrop
                                  # 0.05); "off": none of those (modules' own defaults, e.g.
                                  # AlexNet/VGG dropout, stay). Eval mode is the same either way.
      max_steps_per_epoch=0,      # >0: cap steps per epoch (smoke tests)
      frontend_batch="auto",      # "global": a recipe's batch statistics (paper_mel3 divides
                                  # by the batch max) over the global batch, reduced across
                                  # devices, so they match a single device; "device": over each
                                  # device's rows only; "auto": global iff the recipe has
                                  # uses_batch_statistics. Each device prepares its own rows.
      bn_recalibration="precise",  # "precise": before each validation (and so before the best
                                  # checkpoint and the fine-tuned embeddings) recompute the
                                  # BatchNorm running stats over the training split (train-mode
                                  # forward, no gradient, pooled over batches: precise BN).
                                  # Without it a small set (1 step/epoch) is broken in eval mode.
                                  # "off": the paper-exact torch running averages (momentum 0.1).
      bn_recalibration_batches=100,  # at most this many training batches per recalibration
                                  # (0 = the whole split); 100 x 32 clips is pycls' ~3k-8k.
      eval_batch_size=32,         # validation batch (global, padded + masked); = batch_size by
                                  # default because the paper's recipe normalises per batch
      drop_background=False,      # detection: train/validate without all-background windows
      # --- checkpoints and logs ---
      checkpoint_every_steps=0,   # >0: also save every N steps (resume point); 0 = epoch ends
      checkpoint_min_interval_seconds=30.0,  # epoch-end resume points at most this often
                                  # (the last epoch and SIGTERM always save; best-epoch
                                  # checkpoints are always written): small sets have 1-step
                                  # epochs where a save per epoch would dominate. 0 = every epoch.
      keep_checkpoints=2,         # recent checkpoints kept for resuming
      async_checkpointing=True,   # orbax writes in the background; waited on before exit
      log_every_steps=10,         # loss/throughput to metrics.jsonl + TensorBoard; NaN check
      tensorboard=True,           # also write tf.summary event files under workdir/tensorboard
      progress_bar=True,          # tqdm over steps (process 0 only)
      augment=augment_config(),
  ))
