#!/usr/bin/env bash
# QDQ models produced by PyTorch (eager-mode PTQ with the qnnpack and onednn
# engines, QAT converted to int8, and the fake-quant QAT model before convert),
# exported by torch.onnx at opset 13. Each must run in Sinter within one output
# quantization step of PyTorch's own outputs and of ONNX Runtime, as imported
# and, once the fold-qdq pass exists, after it. See docs/torch-qdq.md.
# Skips (77) without Debian's python3-torch, or when onnxruntime cannot be had.
#   usage: run.sh SINTER WORK_DIR BUILD_DIR
# TORCH_QDQ_FOLD (default canonicalize,fold-constants,fold-qdq) is the pipeline
# the folded models get: canonicalize drops PyTorch's same-type Cast between
# each Q and DQ, fold-constants turns the computed bias zero points
# (ConstantOfShape -> Cast) into constants; see docs/torch-qdq.md.
set -u
sinter=$1 work=$2 build=$3
fold=${TORCH_QDQ_FOLD:-canonicalize,fold-constants,fold-qdq}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work/orig"
/usr/bin/python3 "$here/export_qdq.py" "$work/orig"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -ne 0 ] && { echo "export failed"; exit 1; }

fail=0
folded=()
if "$sinter" opt --list-passes 2>/dev/null | grep -q '^fold-qdq '; then
  for m in "$work"/orig/*/; do
    n=$(basename "$m")
    mkdir -p "$work/folded/$n"
    if ! "$sinter" opt "$m/model.onnx" --passes "$fold" --verify-each \
        -o "$work/folded/$n/model.onnx"; then
      echo "FAIL $n: sinter opt --passes $fold failed"
      fail=1
      continue
    fi
    if ! "$sinter" opt "$m/model.onnx" --passes "$fold" --export-standard \
        -o "$work/folded/$n/standard.onnx"; then
      echo "FAIL $n: sinter opt --passes $fold --export-standard failed"
      fail=1
    fi
    cp -r "$m/test_data_set_0" "$work/folded/$n/"
  done
  folded=(--folded "$work/folded")
else
  echo "fold-qdq is not registered: the folded comparison was skipped"
fi

# ONNX's own tolerance (what `sinter conform` applies) is informational here:
# PyTorch's quantized kernels requantize in integer arithmetic (qnnpack and
# onednn round the rescaled accumulator their own way), while the exported QDQ
# graph means float Conv/Gemm followed by QuantizeLinear, so an output can sit
# one step away. The gate is the one-step comparison below.
echo "== sinter conform, as imported (informational)"
"$sinter" conform "$work/orig"
if [ ${#folded[@]} -gt 0 ]; then
  echo "== sinter conform, after fold-qdq (informational)"
  "$sinter" conform "$work/folded"
fi

echo "== Sinter vs PyTorch, within one output quantization step"
/usr/bin/python3 "$here/compare_ort.py" --against pytorch "$sinter" "$work/orig" "${folded[@]}" \
  || fail=1

echo "== Sinter vs ONNX Runtime, within one output quantization step"
py=$("$here/../scripts/ort_env.sh" "$build")
if [ $? -ne 0 ]; then
  echo "SKIP: no onnxruntime; the ONNX Runtime comparison did not run"
  [ $fail -ne 0 ] && exit 1
  exit 77
fi
"$py" "$here/compare_ort.py" --against ort "$sinter" "$work/orig" "${folded[@]}"
rc=$?
[ $rc -eq 77 ] && { [ $fail -ne 0 ] && exit 1; exit 77; }
[ $rc -ne 0 ] && fail=1
exit $fail
