#!/usr/bin/env bash
# Architectures Sinter was not tuned on: torchvision models (and exporter
# corner cases: opset 9 Upsample, Cast chains, Constant nodes, dynamic batch)
# exported by Debian's PyTorch with its outputs as the reference. Each must
# pass `sinter conform` as imported and after `sinter opt -O2`, and the -O2
# model compiled for the CPU (`--backend cpu`). Skips (77)
# when PyTorch is not installed (Debian python3-torchvision).
set -u
sinter=$1 work=$2
rm -rf "$work"
mkdir -p "$work/orig" "$work/o2"
/usr/bin/python3 "$(dirname "$0")/export_models.py" "$work/orig" --quick 2>/dev/null
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -ne 0 ] && { echo "export failed"; exit 1; }
for m in "$work"/orig/*/; do
  n=$(basename "$m")
  mkdir -p "$work/o2/$n"
  "$sinter" opt "$m/model.onnx" -O2 --verify-each -o "$work/o2/$n/model.onnx" || exit 1
  cp -r "$m/test_data_set_0" "$work/o2/$n/"
done
echo "== as imported"
"$sinter" conform "$work/orig" || exit 1
echo "== after -O2"
"$sinter" conform "$work/o2" || exit 1
echo "== the -O2 models compiled for this CPU (LLVM), through libsinter_rt"
"$sinter" conform "$work/o2" --backend cpu
