#!/usr/bin/python3
"""PyTorch cross-check: export models with torch.onnx, run them through the Fovea engine (onnx_run), compare.

Models: (a) a small GAP CNN with BatchNorm, (b) torchvision resnet18 with random weights, (c) a PyTorch-style
classifier head using x.view(x.size(0), -1), whose export emits the Shape/Gather/Unsqueeze/Concat/Reshape
arithmetic the engine must fold at load. The check: max |fovea - torch| / max |torch| <= 1e-4 per output.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

MAX_RELATIVE_DIFF = 1e-4


class GapCnn(torch.nn.Module):
    """conv-bn-relu blocks, max pooling, global average pooling, linear classifier."""

    def __init__(self):
        super().__init__()
        def block(cin, cout):
            return [torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False), torch.nn.BatchNorm2d(cout),
                    torch.nn.ReLU()]
        self.features = torch.nn.Sequential(*block(1, 16), *block(16, 16), torch.nn.MaxPool2d(2),
                                            *block(16, 32), torch.nn.MaxPool2d(2), *block(32, 64))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.fc(torch.flatten(self.pool(self.features(x)), 1)), dim=1)


class ViewHead(torch.nn.Module):
    """Strided conv and average pooling, then x.view(x.size(0), -1) into a linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.pool = torch.nn.AvgPool2d(2)
        self.fc = torch.nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        x = self.pool(torch.nn.functional.leaky_relu(self.conv(x), 0.1))
        return self.fc(x.view(x.size(0), -1))


def randomize_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


def check(name, model, input_shape, runner, workdir):
    generator = torch.Generator().manual_seed(1234)
    randomize_batchnorm(model, generator)
    model.eval()
    x = torch.randn(*input_shape, generator=generator)
    with torch.no_grad():
        expected = model(x).numpy()
    path = os.path.join(workdir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    input_path = os.path.join(workdir, name + "_input.bin")
    x.numpy().astype(np.float32).tofile(input_path)
    prefix = os.path.join(workdir, name + "_out")
    shape_arg = ",".join(str(d) for d in input_shape)
    run = subprocess.run([runner, path, input_path, shape_arg, prefix], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL {name}: onnx_run exited {run.returncode}: {run.stderr.strip()}")
        return False
    got = np.fromfile(prefix + "0.bin", dtype=np.float32).reshape(expected.shape)
    rel = float(np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-12))
    agree = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
    ok = rel <= MAX_RELATIVE_DIFF
    print(f"{'PASS' if ok else 'FAIL'} {name}: max relative difference {rel:.2e} "
          f"(limit {MAX_RELATIVE_DIFF:.0e}), top-1 agreement {agree:.0%}")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True, help="path to the onnx_run binary")
    args = parser.parse_args()
    torch.manual_seed(0)
    cases = [
        ("gap_cnn_bn", GapCnn(), (4, 1, 28, 28)),
        ("view_head", ViewHead(), (3, 3, 32, 32)),
        ("resnet18", torchvision.models.resnet18(weights=None), (2, 3, 224, 224)),
    ]
    with tempfile.TemporaryDirectory() as workdir:
        results = [check(name, model, shape, args.runner, workdir) for name, model, shape in cases]
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
