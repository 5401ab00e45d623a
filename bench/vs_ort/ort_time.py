"""Times one ONNX model with ONNX Runtime on the CPU and prints one JSON object
({"median_ms": ..., "mean_ms": ..., "iters": ...}), the ORT side of
bench/vs_ort/run.sh. Inputs: the input_K.pb files of a test_data_set folder,
bound in the model's input order (as `sinter bench --input FILE` binds them).

usage: ort_time.py MODEL.onnx INPUT_DIR THREADS WARMUP ITERS
"""
import glob
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def load_inputs(sess, input_dir):
    files = sorted(glob.glob(os.path.join(input_dir, "input_*.pb")),
                   key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    feeds = {}
    for meta, path in zip(sess.get_inputs(), files):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        feeds[meta.name] = numpy_helper.to_array(t)
    missing = [m.name for m in sess.get_inputs() if m.name not in feeds]
    if missing:
        raise SystemExit(f"{input_dir}: no input file for {missing}")
    return feeds


def main():
    model, input_dir, threads, warmup, iters = sys.argv[1:6]
    threads, warmup, iters = int(threads), int(warmup), int(iters)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feeds = load_inputs(sess, input_dir)
    for _ in range(warmup):
        sess.run(None, feeds)
    lat = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        lat.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"median_ms": statistics.median(lat), "mean_ms": float(np.mean(lat)),
                      "iters": iters, "threads": threads, "ort": ort.__version__}))


if __name__ == "__main__":
    main()
