#!/usr/bin/env python3
"""Runs `sinter opt` with no passes (a plain import and export) and
`sinter opt -O2 --export-standard` on every shared model and checks that
ONNX Runtime loads each result and reproduces the reference outputs of
test_data_set_0 within 1e-4 of the largest reference value (the same bound
as the in-process -O2 test: fused and folded f32 arithmetic moves results by
a few ulps per layer).
  usage: ort_export_standard.py SINTER MODELS_DIR WORK_DIR"""
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sinter, models, work = sys.argv[1:4]
if not os.path.isdir(models):
    print(f"SKIP: {models} is absent")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
passed = failed = 0
NAMES = ["digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2", "bert_tiny", "tiny_llama"]
RUNS = (("(no passes)", ["--passes", ""], ".plain.onnx"),
        ("-O2 --export-standard", ["-O2", "--export-standard"], ".std.onnx"))


def check(name, label, flags, suffix):
    """Returns True when ORT reproduces the reference outputs."""
    src = os.path.join(models, name, "model.onnx")
    out = os.path.join(work, name + suffix)
    r = subprocess.run([sinter, "opt", src] + flags + ["-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {name} {label}: sinter opt failed: {r.stderr.strip()}")
        return False
    domains = {n.domain for n in onnx.load(out).graph.node}
    if domains - {"", "ai.onnx"}:
        print(f"FAIL {name} {label}: non-standard domains remain: {sorted(domains)}")
        return False
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    data = os.path.join(models, name, "test_data_set_0")
    feeds = {}
    for i, inp in enumerate(sess.get_inputs()):
        feeds[inp.name] = numpy_helper.to_array(
            onnx.load_tensor(os.path.join(data, f"input_{i}.pb")))
    ok = True
    for i, got in enumerate(sess.run(None, feeds)):
        ref = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"output_{i}.pb")))
        err = float(np.max(np.abs(got.astype(np.float64) - ref)))
        scale = float(np.max(np.abs(ref))) or 1.0
        print(f"{name} {label} output {i}: max |err| {err:.3g}, max |ref| {scale:.3g}, "
              f"relative {err / scale:.3g}")
        ok = ok and err <= 1e-4 * scale
    if not ok:
        print(f"FAIL {name} {label}: outputs differ")
    return ok


passed = failed = 0
for name in NAMES:
    for label, flags, suffix in RUNS:
        if check(name, label, flags, suffix):
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
