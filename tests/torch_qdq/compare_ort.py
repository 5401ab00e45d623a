#!/usr/bin/env python3
"""Compares Sinter's outputs on PyTorch-exported QDQ models, in units of one
output quantization step (the scale of the DequantizeLinear that produces
each graph output, read from the model).

  compare_ort.py --against ort SINTER DIR [--folded FOLDED_DIR]
      ONNX Runtime on DIR/<m>/model.onnx (with all its graph optimizations,
      and with none) vs `sinter run` on the same model (and on
      FOLDED_DIR/<m>/model.onnx, the fold-qdq output, when given; and ONNX
      Runtime on FOLDED_DIR/<m>/standard.onnx, the folded model written with
      --export-standard, when present).
      Needs onnxruntime: run it with the python that tests/scripts/ort_env.sh
      prints; exits 77 without it.
  compare_ort.py --against pytorch SINTER DIR [--folded FOLDED_DIR]
      PyTorch's own outputs (test_data_set_0/output_N.pb) vs `sinter run`.
      Needs only numpy and onnx.

With --folded, fold-qdq must also have lowered at least one of the model's
DQ -> Conv/Gemm/MatMul [-> Relu/Clip] -> Q groups, if it has any.

Every model must agree within 1 step (plus 1e-3 step for the float rounding
of scale * (q - zero_point)). Exits 1 if any does not."""
import glob
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

TOL_STEPS = 1.0 + 1e-3
PASS_THROUGH = {"Identity", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}


def const_values(model):
    vals = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    vals[n.output[0]] = numpy_helper.to_array(a.t)
    return vals


def output_steps(model):
    """Maps each graph output name to the scale of the DequantizeLinear that
    produces it (through shape-only ops), or raises ValueError."""
    producer = {o: n for n in model.graph.node for o in n.output}
    vals = const_values(model)
    steps = {}
    for out in model.graph.output:
        name, n = out.name, producer.get(out.name)
        while n is not None and n.op_type in PASS_THROUGH:
            n = producer.get(n.input[0])
        if n is None or n.op_type != "DequantizeLinear" or n.input[1] not in vals:
            raise ValueError(f"output '{name}' does not come from a DequantizeLinear "
                             "with a constant scale")
        scale = vals[n.input[1]]
        if scale.size != 1:
            raise ValueError(f"output '{name}': per-axis output scale {scale.shape}")
        steps[name] = float(scale.reshape(()))
    return steps


def op_counts(path):
    counts = {}
    for n in onnx.load(path).graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def qdq_islands(path):
    """Counts float Conv/Gemm/MatMul nodes whose inputs all come from
    DequantizeLinear and whose output reaches a QuantizeLinear through at
    most a Relu/Clip: the groups fold-qdq is there to lower to integer ops."""
    model = onnx.load(path)
    producer = {o: n for n in model.graph.node for o in n.output}
    consts = const_values(model)
    users = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    count = 0
    for n in model.graph.node:
        if n.domain not in ("", "ai.onnx") or n.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        # The data and weight inputs come from DequantizeLinear; a bias may
        # also be a float constant (fake-quant exports leave it in float).
        if not all(i in consts if k >= 2 and i in consts else
                   producer.get(i) is not None and producer[i].op_type == "DequantizeLinear"
                   for k, i in enumerate(n.input) if i):
            continue
        out = n.output[0]
        nxt = users.get(out, [])
        while len(nxt) == 1 and nxt[0].op_type in ("Relu", "Clip"):
            nxt = users.get(nxt[0].output[0], [])
        if len(nxt) == 1 and nxt[0].op_type == "QuantizeLinear":
            count += 1
    return count


def load_inputs(model_dir, model):
    data = os.path.join(model_dir, "test_data_set_0")
    init = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in init]
    return [(nm, os.path.join(data, f"input_{k}.pb")) for k, nm in enumerate(names)]


def sinter_run(sinter, model_path, inputs, out_names):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sinter, "run", model_path, "--quiet", "--output-dir", tmp]
        for nm, f in inputs:
            cmd += ["--input", f"{nm}={f}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"sinter run failed: {r.stderr.strip()}")
        res = []
        for nm in out_names:
            safe = "".join("_" if c in "/\\: " else c for c in nm) or "output"
            res.append(np.load(os.path.join(tmp, safe + ".npy")))
        return res


def references(against, model_dir, model_path, model, inputs):
    """Returns [(label, outputs)]: PyTorch's stored outputs, or ONNX Runtime's
    with all graph optimizations (QDQ groups fused into its integer QLinear
    kernels, what users deploy) and with none (each DequantizeLinear, float
    op and QuantizeLinear run as written: ONNX's reference semantics)."""
    if against == "pytorch":
        data = os.path.join(model_dir, "test_data_set_0")
        return [("pytorch", [numpy_helper.to_array(onnx.load_tensor(
            os.path.join(data, f"output_{k}.pb"))) for k in range(len(model.graph.output))])]
    import onnxruntime as ort
    feeds = {nm: numpy_helper.to_array(onnx.load_tensor(f)) for nm, f in inputs}
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        # Shows which kernels ORT really ran (QLinearConv, QGemm, ... or float).
        so = ort.SessionOptions()
        so.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
        so.log_severity_level = 3
        ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        print(f"{os.path.basename(model_dir)}: ORT optimized graph: "
              f"{op_counts(so.optimized_model_filepath)}")
    for label, level in (("ort", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                         ("ort-noopt", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        res.append((label, sess.run([o.name for o in model.graph.output], feeds)))
    return res


def compare(label, ref, got, steps, names):
    ok = True
    for nm, r, g in zip(names, ref, got):
        if r.shape != g.shape:
            print(f"FAIL {label} '{nm}': shape {g.shape}, reference {r.shape}")
            ok = False
            continue
        diff = np.abs(g.astype(np.float64) - r.astype(np.float64)) / steps[nm]
        n_off = int(np.count_nonzero(diff > 1e-3))
        worst = float(diff.max()) if diff.size else 0.0
        verdict = "ok" if worst <= TOL_STEPS else "FAIL"
        print(f"{verdict} {label} '{nm}': max error {worst:.3f} steps (step {steps[nm]:.4g}), "
              f"{n_off} of {diff.size} elements differ")
        ok = ok and worst <= TOL_STEPS
    return ok


def main(argv):
    if len(argv) < 4 or argv[0] != "--against" or argv[1] not in ("ort", "pytorch"):
        print(__doc__)
        return 2
    against, sinter, root = argv[1], argv[2], argv[3]
    folded = argv[5] if len(argv) >= 6 and argv[4] == "--folded" else None
    if against == "ort":
        try:
            import onnxruntime as ort
            print(f"onnxruntime {ort.__version__}")
        except ImportError as e:
            print(f"SKIP: {e}")
            return 77
    dirs = sorted(d for d in glob.glob(os.path.join(root, "*")) if
                  os.path.isfile(os.path.join(d, "model.onnx")))
    if not dirs:
        print(f"FAIL: no models under {root}")
        return 1
    passed = failed = 0
    for d in dirs:
        name = os.path.basename(d)
        path = os.path.join(d, "model.onnx")
        model = onnx.load(path)
        try:
            steps = output_steps(model)
            names = [o.name for o in model.graph.output]
            inputs = load_inputs(d, model)
            refs = references(against, d, path, model, inputs)
            runs = [("sinter", path)]
            if folded:
                fp = os.path.join(folded, name, "model.onnx")
                if not os.path.isfile(fp):
                    raise RuntimeError(f"no folded model {fp} (fold-qdq failed?)")
                runs.append(("sinter fold-qdq", fp))
                print(f"{name} after fold-qdq: {op_counts(fp)}")
                before, after = qdq_islands(path), qdq_islands(fp)
                print(f"{name}: DQ->Conv/Gemm/MatMul[->Relu]->Q groups: {before} before "
                      f"fold-qdq, {after} after")
                if before and after >= before:
                    print(f"FAIL {name}: fold-qdq lowered none of its {before} QDQ groups "
                          "(note PyTorch's Q -> Cast(uint8->uint8) -> DQ between groups)")
                    failed += 1
            std = os.path.join(folded, name, "standard.onnx") if folded else None
            if against == "ort" and std and os.path.isfile(std):
                # fold-qdq's integer ops written back as standard ONNX
                # (--export-standard), run by ONNX Runtime itself.
                runs.append(("ORT on fold-qdq --export-standard", std))
            for tag, mp in runs:
                if tag.startswith("ORT"):
                    import onnxruntime as ort
                    print(f"{name} --export-standard: {op_counts(mp)}")
                    sess = ort.InferenceSession(mp, providers=["CPUExecutionProvider"])
                    feeds = {nm: numpy_helper.to_array(onnx.load_tensor(f)) for nm, f in inputs}
                    got = sess.run(names, feeds)
                else:
                    got = sinter_run(sinter, mp, inputs, names)
                for label, ref in refs:
                    if compare(f"{name}: {tag} vs {label}", ref, got, steps, names):
                        passed += 1
                    else:
                        failed += 1
        except Exception as e:  # noqa: BLE001 - any per-model problem fails that model only
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
