#!/usr/bin/env bash
# Sinter vs ONNX Runtime on the CPU, for each shared model at 1 and 2 threads:
# ORT fp32, Sinter fp32 (sinter compile -O2), Sinter int8 (--quantize int8,
# models with a calib/ folder), ORT on Sinter's QDQ export (sinter quantize),
# and the speed ratios. A benchmark, not a test: run it on a quiet machine.
#
# usage: bench/vs_ort/run.sh [BUILD_DIR] [MODELS_DIR]
#   env: THREADS="1 2"  WARMUP=10  ITERS=50  ROUNDS=3
#        MODELS="resnet18 mobilenet_v2 ..."  CPU=native (sinter compile --cpu)
# Latencies are medians over ITERS runs after WARMUP, on the inputs of the
# model's test_data_set_0 (the same tensors for both), in one run of this
# script; each is timed in ROUNDS rounds that alternate the four columns, and
# the median round is printed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || exit 1
models=${2:-$root/../shared/models}
threads_list=${THREADS:-1 2}
warmup=${WARMUP:-10}
iters=${ITERS:-50}
rounds=${ROUNDS:-3}
cpu=${CPU:-native}
sinter="$build/sinter"
work="$build/vs_ort"

[ -x "$sinter" ] || { echo "no $sinter: build first (make build)" >&2; exit 1; }
[ -d "$models" ] || { echo "no models at $models (see ../shared/models/README.md)" >&2; exit 1; }
have_compile=1
if ! "$sinter" compile --help >/dev/null 2>&1; then
  echo "note: 'sinter compile' is not available in $sinter; Sinter columns will say n/a" >&2
  have_compile=0
fi
py=$("$root/tests/scripts/ort_env.sh" "$build") || {
  echo "cannot get onnxruntime (tests/scripts/ort_env.sh failed)" >&2
  exit 1
}
mkdir -p "$work"

if [ -n "${MODELS:-}" ]; then
  names=$MODELS
else
  names=$(for m in "$models"/*/model.onnx; do basename "$(dirname "$m")"; done)
fi

# Prints the value of KEY from a one-line JSON object on stdin.
json_get() { "$py" -c "import json,sys; print('%.4g' % json.load(sys.stdin)['$1'])"; }

# try LOG CMD...: runs CMD with its stderr in LOG; on failure prints the
# error's last lines and returns 1.
try() {
  local log=$1
  shift
  if "$@" 2>"$log"; then return 0; fi
  echo "    failed: $*" >&2
  tail -n 3 "$log" | sed 's/^/    | /' >&2
  return 1
}

# sinter_ms SO THREADS INPUTS...: median ms of `sinter bench --json`; n/a
# when SO was not attempted, fail when its compile failed.
sinter_ms() {
  local so=$1 t=$2
  shift 2
  [ -f "$so.failed" ] && { echo fail; return; }
  [ -f "$so" ] || { echo n/a; return; }
  local out
  if out=$(try "$work/bench.err" "$sinter" bench "$so" --json --threads "$t" --warmup "$warmup" \
    --iters "$iters" "$@"); then
    echo "$out" | json_get p50_ms
  else
    echo fail
  fi
}

# ort_ms MODEL THREADS INPUT_DIR: median ms with ONNX Runtime, or n/a.
ort_ms() {
  [ -f "$1" ] || { echo n/a; return; }
  local out
  if out=$(try "$work/ort.err" "$py" "$here/ort_time.py" "$1" "$3" "$2" "$warmup" "$iters"); then
    echo "$out" | json_get median_ms
  else
    echo fail
  fi
}

# median V...: the median of numbers (as printed, %.4g); the first word that is
# not a number (n/a, fail) when there is one.
median() {
  "$py" -c "import statistics, sys
v = sys.argv[1:]
bad = [x for x in v if not x.replace('.', '', 1).replace('e-', '', 1).isdigit()]
print(bad[0] if bad else '%.4g' % statistics.median(float(x) for x in v))" "$@"
}

ratio() {
  "$py" -c "import sys
try: print('%.2fx' % (float(sys.argv[1]) / float(sys.argv[2])))
except (ValueError, ZeroDivisionError): print('-')" "$1" "$2"
}

ort_version=$("$py" -c 'import onnxruntime; print(onnxruntime.__version__)')
rows=()
for name in $names; do
  dir="$models/$name"
  model="$dir/model.onnx"
  data="$dir/test_data_set_0"
  [ -f "$model" ] || { echo "$name: no $model, skipped" >&2; continue; }
  inputs=()
  for ((k = 0; ; k++)); do
    [ -f "$data/input_$k.pb" ] || break
    inputs+=(--input "$data/input_$k.pb")
  done
  echo "== $name" >&2
  fp32="$work/$name.fp32.so"
  int8="$work/$name.int8.so"
  qdq="$work/$name.qdq.onnx"
  rm -f "$fp32" "$int8" "$qdq" "$fp32.failed" "$int8.failed" "$qdq.failed"
  t0=$(date +%s.%N)
  if [ $have_compile = 0 ]; then
    :
  elif try "$work/$name.compile.log" "$sinter" compile "$model" -O2 --cpu "$cpu" -o "$fp32"; then
    echo "    compile fp32: $("$py" -c "print('%.2f' % ($(date +%s.%N) - $t0))") s" >&2
  else
    touch "$fp32.failed"
  fi
  if [ -d "$dir/calib" ]; then
    t0=$(date +%s.%N)
    if [ $have_compile = 0 ]; then
      :
    elif try "$work/$name.compile8.log" "$sinter" compile "$model" --quantize int8 \
      --calib "$dir/calib" --cpu "$cpu" -o "$int8"; then
      echo "    compile int8: $("$py" -c "print('%.2f' % ($(date +%s.%N) - $t0))") s" >&2
    else
      touch "$int8.failed"
    fi
    try "$work/$name.quantize.log" "$sinter" quantize "$model" --calib "$dir/calib" -o "$qdq" ||
      touch "$qdq.failed"
  else
    echo "    no calib/: int8 columns skipped" >&2
  fi
  for t in $threads_list; do
    # ROUNDS rounds, each timing all four in turn, so a change in the
    # machine's load over the run hits every column alike; the median round.
    o32s=() s32s=() s8s=() oqs=()
    for ((r = 0; r < rounds; r++)); do
      o32s+=("$(ort_ms "$model" "$t" "$data")")
      s32s+=("$(sinter_ms "$fp32" "$t" "${inputs[@]}")")
      s8s+=("$(sinter_ms "$int8" "$t" "${inputs[@]}")")
      oqs+=("$(ort_ms "$qdq" "$t" "$data")")
    done
    o32=$(median "${o32s[@]}")
    s32=$(median "${s32s[@]}")
    s8=$(median "${s8s[@]}")
    oq=$(median "${oqs[@]}")
    [ -f "$qdq.failed" ] && oq=fail
    rows+=("$(printf '%-14s %3s %10s %12s %12s %10s %10s %10s' "$name" "$t" "$o32" "$s32" "$s8" \
      "$oq" "$(ratio "$o32" "$s32")" "$(ratio "$o32" "$s8")")")
    echo "    ${rows[-1]}" >&2
  done
done

echo
echo "Sinter vs ONNX Runtime $ort_version (CPU), median ms over $iters runs after $warmup warmup"
echo "(median of $rounds alternating rounds),"
echo "inputs from test_data_set_0; --cpu $cpu; $(nproc) CPUs online"
printf '%-14s %3s %10s %12s %12s %10s %10s %10s\n' model thr "ORT fp32" "Sinter fp32" \
  "Sinter int8" "ORT QDQ" "fp32 ORT/S" "int8 ORT/S"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "ORT/S: ORT fp32 ms / Sinter ms (above 1: Sinter is faster). n/a: not built"
echo "(no calib/ or no 'sinter compile'); fail: see the error printed above."
