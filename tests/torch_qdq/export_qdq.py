#!/usr/bin/python3
"""Exports small CNNs quantized by PyTorch (torch.ao.quantization, eager and FX mode)
as ONNX QDQ models in ONNX backend-test layout: DIR/<name>/model.onnx and
DIR/<name>/test_data_set_0/{input_0,output_0}.pb, the output being what the
PyTorch model itself computes (quantized kernels, or fake-quant for the
unconverted QAT model). Exits 77 when PyTorch is not installed.
  usage: /usr/bin/python3 export_qdq.py OUT_DIR"""
import collections
import copy
import os
import sys
import warnings

try:
    import numpy as np
    import onnx
    import torch
    import torch.ao.quantization as tq
    from onnx import numpy_helper
    from torch import nn
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

# Debian's torch 1.13 has no fbgemm; qnnpack (per-tensor weights) and onednn
# (per-channel weights) are the engines it ships.
ENGINES = torch.backends.quantized.supported_engines
if "qnnpack" not in ENGINES:
    print(f"SKIP: no qnnpack quantized engine (have {ENGINES})")
    sys.exit(77)


class Net(nn.Module):
    """Conv-BN-ReLU x2, max pool, Linear on 8x8 'digits-like' images."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)


FUSE = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]]


def digits_like(gen, n):
    """Images in [0, 1] with a few bright strokes, labels from the stroke layout:
    enough structure for QAT's training steps to move the weights."""
    x = torch.rand(n, 1, 8, 8, generator=gen) * 0.2
    y = torch.randint(0, 10, (n,), generator=gen)
    for i in range(n):
        k = int(y[i])
        x[i, 0, k % 8, :] += 0.8
        x[i, 0, :, (3 * k) % 8] += 0.6
    return x.clamp(0, 1), y


def float_model(gen):
    m = Net()
    # Non-trivial BN statistics so that folding BN into the conv matters.
    with torch.no_grad():
        for bn in (m.bn1, m.bn2):
            c = bn.num_features
            bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            bn.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(c, generator=gen) * 0.1)
    return m


def ptq(engine, gen, calib):
    torch.backends.quantized.engine = engine
    m = float_model(gen).eval()
    m.qconfig = tq.get_default_qconfig(engine)
    tq.fuse_modules(m, FUSE, inplace=True)
    tq.prepare(m, inplace=True)
    with torch.no_grad():
        for b in calib.split(16):
            m(b)
    tq.convert(m, inplace=True)
    return m


def ptq_fx(engine, gen, calib):
    """FX graph mode: the stubs stay as no-ops, the tracer places the quant
    points itself."""
    from torch.ao.quantization import quantize_fx
    torch.backends.quantized.engine = engine
    m = float_model(gen).eval()
    mapping = tq.get_default_qconfig_mapping(engine)
    m = quantize_fx.prepare_fx(m, mapping, example_inputs=(calib[:1],))
    with torch.no_grad():
        for b in calib.split(16):
            m(b)
    return quantize_fx.convert_fx(m)


def qat(engine, gen, train):
    """Returns (converted int8 model, the fake-quant model before convert)."""
    torch.backends.quantized.engine = engine
    m = float_model(gen).train()
    # The default QAT qconfig uses FusedMovingAvgObsFakeQuantize, which torch
    # 1.13 cannot export (aten::fused_moving_avg_obs_fake_quant); the unfused
    # FakeQuantize with the same ranges exports as QuantizeLinear/DequantizeLinear.
    m.qconfig = tq.QConfig(
        activation=tq.FakeQuantize.with_args(
            observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
            dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False),
        weight=tq.default_weight_fake_quant)
    tq.fuse_modules_qat(m, FUSE, inplace=True)
    tq.prepare_qat(m, inplace=True)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    x, y = train
    for step in range(30):
        i = (step * 32) % x.shape[0]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        opt.step()
        if step == 20:  # the usual QAT schedule, compressed
            m.apply(tq.disable_observer)
            m.apply(torch.nn.intrinsic.qat.freeze_bn_stats)
    m.eval()
    return tq.convert(copy.deepcopy(m), inplace=False), m


def write(out, name, model, x, note):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(d, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    for fname, t in (("input_0.pb", x), ("output_0.pb", y)):
        tp = numpy_helper.from_array(t.detach().numpy().astype(np.float32),
                                     "input" if fname.startswith("in") else "output")
        with open(os.path.join(d, "test_data_set_0", fname), "wb") as f:
            f.write(tp.SerializeToString())
    ops = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
    print(f"{name}: {note}; ops: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    calib, _ = digits_like(gen, 64)
    train = digits_like(gen, 256)
    x, _ = digits_like(gen, 32)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, engines {ENGINES}")
    write(out, "ptq_qnnpack", ptq("qnnpack", torch.Generator().manual_seed(1), calib), x,
          "PTQ, qnnpack: per-tensor int8 weights, uint8 activations")
    if "onednn" in ENGINES:
        write(out, "ptq_onednn", ptq("onednn", torch.Generator().manual_seed(2), calib), x,
              "PTQ, onednn: per-channel int8 weights, uint8 activations")
    write(out, "ptq_fx_qnnpack", ptq_fx("qnnpack", torch.Generator().manual_seed(4), calib),
          x, "PTQ in FX graph mode (prepare_fx/convert_fx), qnnpack")
    conv, fake = qat("qnnpack", torch.Generator().manual_seed(3), train)
    write(out, "qat_qnnpack", conv, x, "QAT (30 steps), converted to int8")
    torch.backends.quantized.engine = "qnnpack"
    write(out, "qat_fakequant", fake, x, "QAT model before convert: FakeQuantize modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
