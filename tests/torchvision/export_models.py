#!/usr/bin/python3
"""Exports torchvision architectures (seeded random weights, eval mode) and a
few exporter corner cases to ONNX in ONNX's backend-test layout, with
PyTorch's own outputs as the reference: OUT/<name>/model.onnx and
OUT/<name>/test_data_set_0/{input,output}_N.pb. `sinter conform OUT` then
checks Sinter against PyTorch. Exits 77 when torch is missing.
  usage: export_models.py OUT [--quick]"""
import os
import sys

try:
    import numpy as np
    import onnx
    import torch
    import torchvision
    from onnx import numpy_helper
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

out_dir = sys.argv[1]
quick = "--quick" in sys.argv
torch.manual_seed(0)


def save(name, model, inputs, opset, dynamic=None, names=None):
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        outs = model(*inputs)
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    in_names = names or [f"input_{i}" for i in range(len(inputs))]
    torch.onnx.export(model, tuple(inputs), os.path.join(d, "model.onnx"), opset_version=opset,
                      input_names=in_names, output_names=[f"output_{i}" for i in range(len(outs))],
                      dynamic_axes=dynamic, do_constant_folding=(opset >= 11))
    for i, t in enumerate(inputs):
        onnx.save_tensor(numpy_helper.from_array(t.numpy(), in_names[i]),
                         os.path.join(d, "test_data_set_0", f"input_{i}.pb"))
    for i, t in enumerate(outs):
        onnx.save_tensor(numpy_helper.from_array(t.numpy(), f"output_{i}"),
                         os.path.join(d, "test_data_set_0", f"output_{i}.pb"))
    print(f"exported {name} (opset {opset})")


def randomize_bn(m):
    # Non-trivial BatchNorm statistics, so that folding has work to do.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m


img = torch.rand(1, 3, 224, 224)
batch = {"input_0": {0: "N"}, "output_0": {0: "N"}}
models = [
    ("tv_resnet50_op13", lambda: torchvision.models.resnet50(), img, 13, batch),
    ("tv_squeezenet_op9", lambda: torchvision.models.squeezenet1_1(), img, 9, None),
    ("tv_shufflenet_op11", lambda: torchvision.models.shufflenet_v2_x1_0(), img, 11, batch),
    ("tv_efficientnet_b0_op13", lambda: torchvision.models.efficientnet_b0(), img, 13, batch),
    ("tv_mobilenet_v3_op14", lambda: torchvision.models.mobilenet_v3_small(), img, 14, None),
]
if hasattr(torchvision.models, "vit_b_16") and not quick:
    models.append(("tv_vit_b_16_op14", lambda: torchvision.models.vit_b_16(), img, 14, None))
if quick:
    models = [m for m in models if "resnet50" not in m[0]]

for name, ctor, x, opset, dyn in models:
    save(name, randomize_bn(ctor()), [x], opset, dyn)


class Upsampler(torch.nn.Module):
    """Opset 9 exports nearest interpolation as Upsample; Cast chains and
    Constant nodes come along."""

    def forward(self, x):
        y = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        z = y.to(torch.float64).to(torch.int32).to(torch.float32)
        return z * 0.5 + torch.tensor(1.0)


save("corner_upsample_cast_op9", Upsampler(), [torch.rand(2, 3, 5, 5) * 10], 9)
save("corner_upsample_bilinear_op11",
     torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
     [torch.rand(1, 2, 4, 4)], 11)
