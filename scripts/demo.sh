#!/usr/bin/env bash
# The demo: build a small model with Sinter's IR builder, write it as ONNX,
# then inspect it and run it with the reference interpreter.
set -euo pipefail
BUILD=${1:-build}
OUT="$BUILD/demo"
mkdir -p "$OUT"
echo "== Building the demo model (IR builder -> ONNX)"
"$BUILD/examples/make_demo_model" "$OUT"
echo
echo "== sinter inspect $OUT/demo.onnx"
"$BUILD/sinter" inspect "$OUT/demo.onnx"
echo
echo "== sinter run (a horizontal bar and a vertical bar; scores: horizontal, vertical, blob)"
"$BUILD/sinter" run "$OUT/demo.onnx" --input "image=$OUT/input.npy" --output-dir "$OUT/out"
echo
echo "outputs written to $OUT/out/"
echo
echo "== sinter compile: fp32 and int8 shared libraries for this CPU (LLVM)"
"$BUILD/sinter" compile "$OUT/demo.onnx" -o "$OUT/demo_fp32.so" --report
"$BUILD/sinter" compile "$OUT/demo.onnx" --quantize int8 --calib "$OUT/input.npy" \
  -o "$OUT/demo_int8.so" --report
for v in fp32 int8; do
  echo
  echo "== sinter run $OUT/demo_$v.so"
  "$BUILD/sinter" run "$OUT/demo_$v.so" --input "image=$OUT/input.npy" --output-dir "$OUT/out_$v"
  echo "== sinter bench $OUT/demo_$v.so"
  "$BUILD/sinter" bench "$OUT/demo_$v.so" --warmup 50 --iters 1000
done
