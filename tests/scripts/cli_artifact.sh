#!/usr/bin/env bash
# `sinter run` and `sinter bench` on a compiled artifact, using the hand-written
# one (tests/runtime/fake_artifact.c: y = relu(x W + b) and its row argmax);
# expected values are computed by hand from W and b there. Also runs
# examples/run_compiled on it.
# usage: cli_artifact.sh SINTER FAKE_ARTIFACT.so PYTHON3 RUN_COMPILED
set -u
sinter=${1:?usage: cli_artifact.sh SINTER FAKE.so PYTHON3 RUN_COMPILED}
fake=${2:?}
py=${3:?}
run_compiled=${4:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error WHAT PATTERN CMD...: CMD exits 1 with PATTERN on stderr.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc -ne 1 ]; then fail "$what: exit $rc, expected 1"; cat "$work/err"; return; fi
  grep -q -- "$pattern" "$work/err" || { fail "$what: stderr lacks '$pattern':"; cat "$work/err"; }
}

"$py" - "$work" <<'EOF' || exit 1
import sys, numpy as np
w = sys.argv[1]
np.save(f"{w}/x.npy", np.array([[1, 2, 3, 4], [0.5, -1, 0, 2]], dtype=np.float32))
np.save(f"{w}/x_f64.npy", np.zeros((1, 4), dtype=np.float64))
np.save(f"{w}/x_bad.npy", np.zeros((2, 3), dtype=np.float32))
EOF

# run: outputs written as .npy and checked against hand-computed values.
# Row 0: pre = b + x W = [0.1+0.5+2-6+3, -0.2-1+0.5+4.5, 0.3+2-1+4] = [-0.4, 3.8, 5.3].
# Row 1: [0.1+0.25-1+0+1.5, -0.2-0.5-0.25, 0.3+1+0.5+2] = [0.85, -0.95, 3.8].
if "$sinter" run "$fake" --input "x=$work/x.npy" --output-dir "$work/out_dir" --threads 2 \
  >"$work/run.txt" 2>"$work/run.err"; then
  grep -q '^y: f32\[2,3\]' "$work/run.txt" || fail "run summary lacks 'y: f32[2,3]'"
  grep -q '^argmax: i64\[2\]' "$work/run.txt" || fail "run summary lacks 'argmax: i64[2]'"
  "$py" - "$work/out_dir" <<'EOF' || fail "run outputs differ from the hand-computed values"
import sys, numpy as np
d = sys.argv[1]
y, a = np.load(f"{d}/y.npy"), np.load(f"{d}/argmax.npy")
want = np.array([[0, 3.8, 5.3], [0.85, 0, 3.8]], dtype=np.float32)
# f32 sums of four products: a few ulps off the decimal values.
ok = y.shape == (2, 3) and np.allclose(y, want, rtol=0, atol=1e-5)
ok = ok and a.dtype == np.int64 and a.tolist() == [2, 2]
if not ok:
    print("y =", y, "argmax =", a)
    sys.exit(1)
EOF
else
  fail "sinter run on the artifact failed"; cat "$work/run.err"
fi
# Inputs in descriptor order without NAME=.
"$sinter" run "$fake" "--input" "$work/x.npy" --quiet || fail "run with a positional input"

expect_error "wrong dtype" "input 'x' from .*x_f64.npy: f64\[1,4\] given, the model takes f32\[N,4\]" \
  "$sinter" run "$fake" --input "x=$work/x_f64.npy"
expect_error "wrong shape" "input 'x' from .*x_bad.npy: f32\[2,3\] given, the model takes f32\[N,4\]" \
  "$sinter" run "$fake" --input "x=$work/x_bad.npy"
expect_error "missing input" "input 'x' (f32\[N,4\]) is missing" "$sinter" run "$fake"
expect_error "unknown name" "no input named 'nope'" "$sinter" run "$fake" --input "nope=$work/x.npy"
expect_error "missing file" "nothing.npy" "$sinter" run "$fake" --input "x=$work/nothing.npy"
cp "$work/x.npy" "$work/junk.so"
expect_error "not an artifact" "junk.so: cannot load as a shared library" \
  "$sinter" run "$work/junk.so" --input "x=$work/x.npy"
"$sinter" run --help | grep -q -- "--threads" || fail "run --help lacks --threads"

# bench: the text report and the JSON object.
if "$sinter" bench "$fake" --iters 30 --warmup 2 --batch 3 >"$work/bench.txt" 2>"$work/bench.err"; then
  for key in 'backend: *runtime' 'batch: *3' 'p50 .* ms  p90 .* ms  p99 .* ms' 'throughput:' \
    'peak RSS:'; do
    grep -q "$key" "$work/bench.txt" || fail "bench output lacks '$key'"
  done
  [ -s "$work/bench.err" ] && fail "bench wrote to stderr without a TTY: $(cat "$work/bench.err")"
else
  fail "sinter bench failed"; cat "$work/bench.err"
fi
if "$sinter" bench "$fake" --json --iters 20 --threads 1 --input "x=$work/x.npy" >"$work/b.json"; then
  "$py" - "$work/b.json" <<'EOF' || fail "bench --json"
import json, sys
o = json.load(open(sys.argv[1]))
for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "throughput_per_s", "peak_rss_mb"):
    assert isinstance(o[k], (int, float)) and o[k] > 0, (k, o.get(k))
assert o["p50_ms"] <= o["p90_ms"] <= o["p99_ms"] <= o["max_ms"], o
assert o["min_ms"] <= o["p50_ms"], o
# batch from the given file (2 rows); throughput = batch / mean latency.
assert o["batch"] == 2 and o["threads"] == 1 and o["iters"] == 20 and o["backend"] == "runtime", o
assert abs(o["throughput_per_s"] - 2e3 / o["mean_ms"]) <= 1e-3 * o["throughput_per_s"], o
EOF
else
  fail "sinter bench --json failed"
fi
expect_error "bench wrong shape" "x_bad.npy" "$sinter" bench "$fake" --input "x=$work/x_bad.npy"
"$sinter" bench "$fake" --iters 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench --iters 0 is not a usage error"
"$sinter" bench --help | grep -q "p50_ms" || fail "bench --help lacks the JSON keys"

# examples/run_compiled on zeros: y = relu(b) = [0.1, 0, 0.3].
if "$run_compiled" "$fake" >"$work/ex.txt" 2>&1; then
  grep -q '^y (f32): 0.1 0 0.3$' "$work/ex.txt" || { fail "run_compiled output"; cat "$work/ex.txt"; }
  grep -q '^argmax (i64):' "$work/ex.txt" || fail "run_compiled lacks argmax"
else
  fail "run_compiled failed"; cat "$work/ex.txt"
fi
# ... and on the first row of x.npy: y = [0, 3.8, 5.3].
"$run_compiled" "$fake" "$work/x.npy" | grep -q '^y (f32): 0 3.8 5.3$' ||
  fail "run_compiled with an .npy input"

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all artifact CLI checks passed"
