#!/usr/bin/env bash
# ctest entry: ONNX Runtime runs Sinter's --export-standard outputs.
set -u
sinter=$1 build=$2 models=$3
py=$("$(dirname "$0")/ort_env.sh" "$build") || exit 77
exec "$py" "$(dirname "$0")/ort_export_standard.py" "$sinter" "$models" "$build/ort-export"
