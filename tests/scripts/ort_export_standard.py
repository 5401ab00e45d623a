#!/usr/bin/env python3
"""Runs `sinter opt -O2 --export-standard` on every shared model and checks
that ONNX Runtime loads the result and reproduces the reference outputs of
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
for name in ["digits_cnn", "digits_mlp", "resnet18", "mobilenet_v2", "bert_tiny", "tiny_llama"]:
    src = os.path.join(models, name, "model.onnx")
    out = os.path.join(work, name + ".std.onnx")
    r = subprocess.run([sinter, "opt", src, "-O2", "--export-standard", "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {name}: sinter opt failed: {r.stderr.strip()}")
        failed += 1
        continue
    domains = {n.domain for n in onnx.load(out).graph.node}
    if domains - {"", "ai.onnx"}:
        print(f"FAIL {name}: non-standard domains remain: {sorted(domains)}")
        failed += 1
        continue
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    data = os.path.join(models, name, "test_data_set_0")
    feeds = {}
    for i, inp in enumerate(sess.get_inputs()):
        t = onnx.load_tensor(os.path.join(data, f"input_{i}.pb"))
        feeds[inp.name] = numpy_helper.to_array(t)
    got = sess.run(None, feeds)
    ok = True
    for i, g in enumerate(got):
        ref = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"output_{i}.pb")))
        err = float(np.max(np.abs(g.astype(np.float64) - ref)))
        scale = float(np.max(np.abs(ref))) or 1.0
        print(f"{name} output {i}: max |err| {err:.3g}, max |ref| {scale:.3g}, relative {err / scale:.3g}")
        ok = ok and err <= 1e-4 * scale
    if ok:
        passed += 1
    else:
        print(f"FAIL {name}: outputs differ")
        failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
