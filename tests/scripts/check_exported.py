#!/usr/bin/python3
"""Checks every ONNX file Sinter exported during the round-trip test with
onnx.checker (full_check, which also runs ONNX's shape inference), and with
ONNX Runtime when it is installed. Exits 77 (skip) when onnx is missing."""
import glob
import os
import sys

try:
    import onnx
except ImportError:
    print("SKIP: python3-onnx is not installed")
    sys.exit(77)

folder = sys.argv[1]
files = sorted(glob.glob(os.path.join(folder, "*.onnx")))
if not files:
    print(f"no exported files in {folder}: run the round-trip test first")
    sys.exit(1)
bad = 0
for f in files:
    try:
        onnx.checker.check_model(onnx.load(f), full_check=True)
    except Exception as e:  # report every failure, then fail
        bad += 1
        print(f"FAIL {os.path.basename(f)}: {str(e).splitlines()[0][:300]}")
print(f"{len(files) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
