#!/usr/bin/env bash
# Cloud TPU VMs: create / setup / run / delete, on every host of a single- or multi-host slice.
# A thin wrapper: everything (runtime version per accelerator family, queued resources, spot
# restart-and-resume, the shipped commit, the exit code of every worker, --dry_run) is in
# launch/tpu/launcher.py (host counts per accelerator type: launch/tpu/slices.py). Examples:
#   launch/tpu/run.sh create --name=N --zone=Z --accelerator=v5litepod-16 --spot --queued
#   launch/tpu/run.sh setup  --name=N --zone=Z
#   launch/tpu/run.sh run    --name=N --zone=Z --restarts=3 -- \
#       python -m launch.run --config=experiments/configs/quickstart.py --workdir=gs://BUCKET/run \
#         --config.data.root=/mnt/BUCKET/quickstart_data
#   launch/tpu/run.sh delete --name=N --zone=Z
#   launch/tpu/run.sh run --name=N --zone=Z --accelerator=v4-32 --restarts=3 --dry_run -- CMD
#     (prints the command for each of the slice's 4 workers and one restart cycle; runs nothing)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-python3}" -m launch.tpu.launcher "$@"
