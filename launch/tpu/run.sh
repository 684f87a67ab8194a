#!/usr/bin/env bash
# Run one command on every host of a Cloud TPU VM (single- or multi-host slice).
#
# Every host runs the SAME command: JAX discovers the slice topology itself, and
# bioacoustics_jax.parallel initialises jax.distributed on multi-host slices; tf.data shards the
# input by jax.process_index(). Data and workdir must be on storage every host can read/write (a GCS
# bucket path or an NFS mount).
#
# Usage:
#   launch/tpu/run.sh create   TPU_NAME ZONE ACCELERATOR [VERSION]   # e.g. v5litepod-16
#   launch/tpu/run.sh setup    TPU_NAME ZONE                         # copy repo, make setup + jax[tpu]
#   launch/tpu/run.sh run      TPU_NAME ZONE -- python -m launch.run --config=... --workdir=gs://...
#   launch/tpu/run.sh delete   TPU_NAME ZONE
set -euo pipefail

verb=${1:?create|setup|run|delete}; name=${2:?TPU name}; zone=${3:?zone}; shift 3
ssh_all() { gcloud compute tpus tpu-vm ssh "$name" --zone="$zone" --worker=all --command="$1"; }

case "$verb" in
  create)
    accelerator=${1:?accelerator type, e.g. v5litepod-8}; version=${2:-v2-alpha-tpuv5-lite}
    gcloud compute tpus tpu-vm create "$name" --zone="$zone" --accelerator-type="$accelerator" \
      --version="$version"
    ;;
  setup)
    # Ship the working tree (not .venv or workdir) to every host, then install there.
    tar --exclude=.venv --exclude=workdir --exclude=.git -czf /tmp/bioacoustics_jax.tgz .
    gcloud compute tpus tpu-vm scp /tmp/bioacoustics_jax.tgz "$name":~/ --zone="$zone" --worker=all
    ssh_all "mkdir -p ~/bioacoustics_jax && tar -xzf ~/bioacoustics_jax.tgz -C ~/bioacoustics_jax \
      && cd ~/bioacoustics_jax && make setup && .venv/bin/pip install -q 'jax[tpu]==0.10.2'"
    ;;
  run)
    [ "${1:-}" = "--" ] && shift
    cmd=$(printf '%q ' "$@")
    # Launch on all hosts at once; each host logs to its own file and the first one streams.
    ssh_all "cd ~/bioacoustics_jax && PATH=\$PWD/.venv/bin:\$PATH $cmd 2>&1 | tee -a ~/run.log"
    ;;
  delete)
    gcloud compute tpus tpu-vm delete "$name" --zone="$zone" --quiet
    ;;
  *) echo "unknown verb $verb (create|setup|run|delete)" >&2; exit 2 ;;
esac
