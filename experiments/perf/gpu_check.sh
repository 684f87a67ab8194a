#!/usr/bin/env bash
# The GPU checks of issues 16 and 30 in one script, for a machine with an NVIDIA GPU, no internet:
# attention temporaries (AST f32/bf16 b256), extraction and train-step ratios vs torch eager /
# AMP / torch.compile, compile times cold and warm, memory peaks, and the accelerator-sensitive
# tests. Writes ONE results file, $OUT/gpu_check.md, in under 8 minutes (each step has a time
# limit taken from a shared 450 s budget; a step that runs out is cut and says so).
#
#   bash experiments/perf/gpu_check.sh            # on the GPU machine, from the repo root
#   OUT=/tmp/gc bash experiments/perf/gpu_check.sh --dry-run   # here, on CPU, tiny sizes
#
# Packages: the device image already has jax[cuda] 0.11, flax, optax, torch, torchvision,
# transformers, absl, etils (see /work/.library/device/KINDS.md); these steps need nothing
# else (no TensorFlow: the tf.data side is not exercised on the GPU). Any wheel placed in .whl/
# (pip download --only-binary=:all: ... -d .whl NAME==VERSION, carried with the run) is
# installed first into /tmp/site, e.g. a newer jax[cuda12] wheel set.
set -u
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
RESULT="$OUT/gpu_check.md"
TABLES=$(mktemp -d)  # bench tables, folded into RESULT at the end
PY=${PYTHON:-python3}
[[ $DRY == 1 && -x .venv/bin/python ]] && PY=.venv/bin/python
[[ $DRY == 1 && -x /work/main/.venv/bin/python ]] && PY=/work/main/.venv/bin/python
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET_S:-450}

if compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { echo "wheel install failed" >> "$RESULT"; exit 1; }
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # torch and jax share the GPU in one process
[[ $DRY == 1 ]] && export JAX_PLATFORMS=cpu

# step NAME SECONDS CMD...: runs CMD under what is left of the budget, appends its output.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - START)))
  ((limit > left)) && limit=$left
  {
    echo
    echo "## $name"
    echo
    echo "Command: \`$*\` (limit ${limit} s)"
    echo
    echo '```'
  } >> "$RESULT"
  if ((limit < 15)); then
    echo "skipped: the 8-minute budget is spent" >> "$RESULT"
  else
    local t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/step.log" 2>&1
    local rc=$?
    grep -v -E "^(I|W)[0-9]{4} |Warning|warn\(" "$OUT/step.log" | tail -n 80 >> "$RESULT"
    echo "[rc=$rc, $(($(date +%s) - t0)) s$([[ $rc == 124 || $rc == 137 ]] && echo ', CUT at the limit')]" >> "$RESULT"
  fi
  echo '```' >> "$RESULT"
}

{
  echo "# gpu_check: issue 16 on $(hostname), $(date -u +%FT%TZ)$([[ $DRY == 1 ]] && echo ' (DRY RUN, CPU, tiny sizes)')"
  echo
  echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ local changes)')."
} > "$RESULT"

step "machine" 30 bash -c "nvidia-smi -L 2>/dev/null; $PY -c 'import jax, torch, flax; print(\"jax\", jax.__version__, jax.devices(), \"| flax\", flax.__version__, \"| torch\", torch.__version__, \"cuda\", torch.cuda.is_available())'"

if [[ $DRY == 1 ]]; then
  step "attention temporaries, AST f32 (compile only)" 120 \
      "$PY" -m experiments.perf.attention_memory --batch=2 --dtype=float32
  step "extraction + train step vs torch" 300 "$PY" -m experiments.perf.bench_models \
      --models=resnet18 --overrides=width=8 --batch=2 --frames=100 --repeats=1 \
      --torch_variants=eager,amp --train --out="$TABLES/models.md"
  step "train step + lr grid vs torch eager (tiny)" 300 "$PY" -m \
      experiments.perf.bench_train_step --width=4 --batch=8 --repeats=1 --grid=2 \
      --torch_variants=eager --out="$TABLES/train_step.md"
  step "accelerator-sensitive tests" 200 "$PY" -m pytest -p no:xdist -q -m "not slow" \
      tests/models/test_attention.py tests/launch/test_compile_cache.py
else
  step "attention temporaries, AST f32 b256 (compile only)" 60 \
      "$PY" -m experiments.perf.attention_memory --batch=256 --dtype=float32
  step "attention temporaries, AST bf16 b256 (compile only)" 60 \
      "$PY" -m experiments.perf.attention_memory --batch=256 --dtype=bfloat16
  # Issue 30: the project's own train step (recipe on device, f32 and bf16) and the 4-lr grid
  # in one vmapped step, vs torch eager / AMP / torch.compile. (bench_grid, the grid end to end,
  # reads the synthetic suite through tfds: the image has no TensorFlow.)
  # Before the b256 extraction step, so the budget cannot skip it.
  step "train step b32 + 4-lr grid vs torch eager/AMP/compile" 100 "$PY" -m \
      experiments.perf.bench_train_step --batch=32 --repeats=20 --grid=4 --bf16 \
      --out="$TABLES/train_step.md"
  # AST f32 at b256 runs here for real: it must fit now (the issue: RESOURCE_EXHAUSTED).
  step "extraction b256: f32/bf16 vs torch eager/AMP/compile" 180 "$PY" -m \
      experiments.perf.bench_models --models=ast,resnet50,aves --batch=256 --repeats=7 \
      --torch_variants=eager,amp,compile --out="$TABLES/models.md"
  step "train step b256 (host batch in) vs torch eager/AMP" 60 "$PY" -m \
      experiments.perf.bench_models --models=resnet18 --batch=256 --repeats=7 \
      --flax_dtypes=float32 --torch_variants=eager,amp --train --out="$TABLES/train.md"
  # The image has no librosa (tests/models/test_mfcc.py imports it): without this flag one
  # collection error stops the whole pytest run before any test.
  step "accelerator-sensitive tests" 90 "$PY" -m pytest -p no:xdist -q -m "not slow" \
      --continue-on-collection-errors tests/models tests/launch/test_compile_cache.py tests/parallel/test_step_equivalence.py
fi
for table in "$TABLES/models.md" "$TABLES/train.md" "$TABLES/train_step.md"; do
  [[ -f $table ]] && { echo; echo "---"; cat "$table"; } >> "$RESULT"
done
echo >> "$RESULT"
echo "Total $(($(date +%s) - START)) s." >> "$RESULT"
rm -f "$OUT/step.log"
cat "$RESULT"
