"""Data parallelism over every device of every host: mechanism only (the step it runs, loss and
update, is train/step.py).

  data_parallel.DataParallel(per_device_step, mode="shard_map" | "pmap"): put_state,
      put_batch (process-local rows -> global arrays / [devices, ...]), step, host_state
  data_parallel.make_eval_fn(eval_step), data_parallel.data_mesh(), local_batch_size(global)
  distributed.maybe_initialize(): jax.distributed.initialize() when the env names a
      multi-process run (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID)
"""
