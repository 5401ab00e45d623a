#!/usr/bin/env bash
# Prints the path of a Python interpreter that has onnxruntime, onnx and
# numpy, installing them from PyPI into a virtual environment under the build
# folder when needed. Exits 77 (ctest's skip code) when that is impossible.
set -u
build=${1:?usage: ort_env.sh BUILD_DIR}
venv="$build/ort-venv"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import onnxruntime, onnx, numpy' 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi
py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "SKIP: no python3 to install onnxruntime with" >&2
  exit 77
fi
if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
  echo "SKIP: python3 -m venv failed; cannot install onnxruntime" >&2
  exit 77
fi
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check onnxruntime onnx numpy >&2; then
  echo "SKIP: pip could not install onnxruntime (offline?)" >&2
  exit 77
fi
echo "$venv/bin/python"
