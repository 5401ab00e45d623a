#!/usr/bin/env bash
# Compiles the demo model (and digits_cnn when ../shared/models is present)
# with `sinter compile`, runs the .so with examples/run_compiled and with
# `sinter run`, and compares both with the interpreter's outputs. Skips (77)
# while `sinter compile` does not exist yet.
# usage: run_compiled.sh SINTER RUN_COMPILED BUILD_DIR PYTHON3 [MODELS_DIR]
set -u
sinter=${1:?usage: run_compiled.sh SINTER RUN_COMPILED BUILD_DIR PYTHON3 [MODELS_DIR]}
run_compiled=${2:?}
build=${3:?}
py=${4:?}
models=${5:-}
if ! "$sinter" compile --help >/dev/null 2>&1; then
  echo "SKIP: 'sinter compile' is not available yet"
  exit 77
fi
work="$build/run_compiled"
rm -rf "$work"
mkdir -p "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# compare A.npy B.npy: outputs of the compiled model and the interpreter.
compare() {
  "$py" - "$1" "$2" <<'EOF'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
# fp32 kernels reassociate sums (FMA, blocking): allow 1e-4 of the output's scale.
tol = 1e-4 * max(1.0, float(np.abs(b).max()))
err = float(np.abs(a.astype(np.float64) - b).max()) if a.shape == b.shape else float("inf")
print(f"  {sys.argv[1]}: shape {a.shape}, max |compiled - interpreter| = {err:.3g} (tol {tol:.3g})")
sys.exit(0 if err <= tol else 1)
EOF
}

demo="$build/demo"
if [ ! -f "$demo/demo.onnx" ]; then
  "$build/examples/make_demo_model" "$demo" >/dev/null || { echo "FAIL: make_demo_model"; exit 1; }
fi
echo "== sinter compile demo.onnx"
if "$sinter" compile "$demo/demo.onnx" -o "$work/demo.so"; then
  echo "== run_compiled demo.so input.npy (first sample)"
  "$run_compiled" "$work/demo.so" "$demo/input.npy" | tee "$work/demo_example.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || fail "run_compiled on demo.so"
  "$sinter" run "$work/demo.so" --input "image=$demo/input.npy" --output-dir "$work/demo_so" -q ||
    fail "sinter run demo.so"
  "$sinter" run "$demo/demo.onnx" --input "image=$demo/input.npy" --output-dir "$work/demo_ref" -q ||
    fail "sinter run demo.onnx"
  compare "$work/demo_so/scores.npy" "$work/demo_ref/scores.npy" || fail "demo.so differs"
  # The example's printed first row (%.5g) against the interpreter's.
  "$py" - "$work/demo_example.txt" "$work/demo_ref/scores.npy" <<'EOF' || fail "run_compiled values"
import sys, numpy as np
line = [l for l in open(sys.argv[1]) if l.startswith("scores (f32):")][0]
got = np.array([float(v) for v in line.split(":")[1].split()])
ref = np.load(sys.argv[2])[0]
# printed with 5 significant digits
sys.exit(0 if got.shape == ref.shape and np.allclose(got, ref, rtol=1e-4, atol=1e-4) else 1)
EOF
else
  fail "sinter compile demo.onnx"
fi

echo "== sinter compile --profile demo.onnx; sinter bench --json"
if "$sinter" compile "$demo/demo.onnx" --profile -q -o "$work/demo_prof.so" &&
  "$sinter" bench "$work/demo_prof.so" --json --threads 1 --iters 20 >"$work/prof.json" &&
  "$sinter" bench "$work/demo.so" --json --threads 1 --iters 5 >"$work/noprof.json"; then
  "$sinter" run "$work/demo_prof.so" --input "image=$demo/input.npy" --output-dir "$work/demo_prof" -q &&
    compare "$work/demo_prof/scores.npy" "$work/demo_ref/scores.npy" || fail "profiled demo.so differs"
  "$py" - "$work/prof.json" "$work/noprof.json" <<'EOF' || fail "bench profile"
import json, sys
p, q = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
prof = p.get("profile")
assert prof and all(e["node"].endswith(")") and e["mean_ms"] >= 0 for e in prof), prof
# every node's time lies inside the run: the sum cannot exceed the mean latency
total = sum(e["mean_ms"] for e in prof)
assert 0 < total <= p["mean_ms"] * 1.0001, (total, p["mean_ms"])
assert "profile" not in q, "an artifact compiled without --profile reported a profile"
print(f"  profile: {len(prof)} nodes, {total:.4f} of {p['mean_ms']:.4f} ms per run")
EOF
else
  fail "sinter compile --profile / bench"
fi

digits="$models/digits_cnn"
if [ -n "$models" ] && [ -f "$digits/model.onnx" ]; then
  echo "== sinter compile -O2 digits_cnn"
  if "$sinter" compile "$digits/model.onnx" -O2 -o "$work/digits.so"; then
    "$run_compiled" "$work/digits.so" || fail "run_compiled on digits.so"
    "$sinter" run "$work/digits.so" --input "input=$digits/test_data_set_0/input_0.pb" \
      --output-dir "$work/digits_so" -q || fail "sinter run digits.so"
    "$sinter" run "$digits/model.onnx" --input "input=$digits/test_data_set_0/input_0.pb" \
      --output-dir "$work/digits_ref" -q || fail "sinter run digits_cnn"
    compare "$work/digits_so/logits.npy" "$work/digits_ref/logits.npy" || fail "digits.so differs"
  else
    fail "sinter compile digits_cnn"
  fi
else
  echo "note: $models/digits_cnn not found; demo model only"
fi

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "compiled models run through libsinter_rt and match the interpreter"
