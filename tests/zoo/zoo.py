#!/usr/bin/python3
"""The model zoo test: torchvision architectures a user would bring, exported by torch.onnx with random weights, must
load in Fovea and compute what PyTorch computes.

One invocation checks one model at its opsets: export (cached in --cache, so a second run only checks), run PyTorch at
batch 1 and 3, run the engine on the same inputs through onnx_run, and compare every output:
max |fovea - torch| / max |torch| <= 1e-4. A model that cannot export, load or run is a failure, never a skip.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

MAX_RELATIVE_DIFF = 1e-4
BATCHES = (1, 3)
DEFAULT_OPSET = 13
SEED = 1234


class FirstOutput(torch.nn.Module):
    """Segmentation models return a dict ({'out', 'aux'}); the exported graph keeps the map a user serves: 'out'."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def classifier(name, size=224):
    return lambda: (getattr(torchvision.models, name)(weights=None), size)


def segmentation(name, size=224):
    def make():
        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None, num_classes=21)
        return FirstOutput(model), size
    return make


# name -> factory returning (module, input side). Opsets: DEFAULT_OPSET for all, plus the extra ones listed.
MODELS = {
    "resnet18": classifier("resnet18"),
    "resnet50": classifier("resnet50"),
    "resnext50_32x4d": classifier("resnext50_32x4d"),
    "wide_resnet50_2": classifier("wide_resnet50_2"),
    "mobilenet_v2": classifier("mobilenet_v2"),
    "mobilenet_v3_small": classifier("mobilenet_v3_small"),
    "mobilenet_v3_large": classifier("mobilenet_v3_large"),
    "efficientnet_b0": classifier("efficientnet_b0"),
    "efficientnet_b3": classifier("efficientnet_b3"),
    "efficientnet_v2_s": classifier("efficientnet_v2_s"),
    "densenet121": classifier("densenet121"),
    "shufflenet_v2_x1_0": classifier("shufflenet_v2_x1_0"),
    "squeezenet1_1": classifier("squeezenet1_1"),
    "googlenet": classifier("googlenet"),
    "inception_v3": classifier("inception_v3", 299),
    "mnasnet1_0": classifier("mnasnet1_0"),
    "regnet_y_400mf": classifier("regnet_y_400mf"),
    "regnet_x_1_6gf": classifier("regnet_x_1_6gf"),
    "convnext_tiny": classifier("convnext_tiny"),
    "vgg11_bn": classifier("vgg11_bn"),
    "alexnet": classifier("alexnet"),
    "fcn_resnet50": segmentation("fcn_resnet50"),
    "deeplabv3_mobilenet_v3_large": segmentation("deeplabv3_mobilenet_v3_large"),
    "lraspp_mobilenet_v3_large": segmentation("lraspp_mobilenet_v3_large"),
}
EXTRA_OPSETS = {
    "resnet18": (11, 17),
    "mobilenet_v3_large": (11, 17),
    "convnext_tiny": (17,),
    "shufflenet_v2_x1_0": (11, 17),
    "lraspp_mobilenet_v3_large": (11,),
}


def randomize(model, generator):
    """Random weights as torchvision initializes them, plus BatchNorm statistics that are not the identity."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)


def export(name, opset, cache):
    """Exports (or finds) the model and the PyTorch outputs for each batch size; returns the file paths."""
    base = os.path.join(cache, f"{name}_op{opset}")
    onnx_path = base + ".onnx"
    inputs = {b: f"{base}_in{b}.npy" for b in BATCHES}
    outputs = {b: f"{base}_out{b}.npy" for b in BATCHES}
    if all(os.path.exists(p) for p in [onnx_path, *inputs.values(), *outputs.values()]):
        return onnx_path, inputs, outputs
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model, size = MODELS[name]()
    randomize(model, generator)
    model.eval()
    for b in BATCHES:
        x = torch.randn(b, 3, size, size, generator=generator)
        with torch.no_grad():
            y = model(x)
        np.save(inputs[b], x.numpy())
        np.save(outputs[b], y.numpy())
    x = torch.randn(1, 3, size, size, generator=generator)
    temporary = onnx_path + ".partial"
    torch.onnx.export(model, x, temporary, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    os.replace(temporary, onnx_path)
    return onnx_path, inputs, outputs


def run_engine(runner, onnx_path, input_path, workdir):
    x = np.load(input_path).astype(np.float32)
    raw = os.path.join(workdir, "input.bin")
    x.tofile(raw)
    prefix = os.path.join(workdir, "out")
    shape = ",".join(str(d) for d in x.shape)
    run = subprocess.run([runner, onnx_path, raw, shape, prefix], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"onnx_run exited {run.returncode}: {run.stderr.strip()}")
    line = run.stdout.splitlines()[0].split()
    dims = tuple(int(d) for d in line[1].split(","))
    return np.fromfile(prefix + "0.bin", dtype=np.float32).reshape(dims)


def check(name, opset, runner, cache, workdir):
    label = f"{name} opset {opset}"
    try:
        started = time.monotonic()
        onnx_path, inputs, outputs = export(name, opset, cache)
        exported = time.monotonic() - started
        for b in BATCHES:
            expected = np.load(outputs[b])
            started = time.monotonic()
            got = run_engine(runner, onnx_path, inputs[b], workdir)
            if got.shape != expected.shape:
                print(f"FAIL {label} batch {b}: output shape {got.shape}, PyTorch {expected.shape}")
                return False
            rel = float(np.max(np.abs(got - expected)) / max(float(np.max(np.abs(expected))), 1e-12))
            ok = rel <= MAX_RELATIVE_DIFF
            print(f"{'PASS' if ok else 'FAIL'} {label} batch {b}: max relative difference {rel:.2e} "
                  f"(limit {MAX_RELATIVE_DIFF:.0e}), output {list(got.shape)}, engine {time.monotonic() - started:.1f} s, "
                  f"export {exported:.1f} s", flush=True)
            if not ok:
                return False
        return True
    except Exception as error:  # noqa: BLE001 -- any failure to export, load or run is this model's failure
        print(f"FAIL {label}: {error}")
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner", required=True, help="path to the onnx_run binary")
    parser.add_argument("--cache", required=True, help="folder for exported models and PyTorch outputs")
    parser.add_argument("--export-only", action="store_true", help="only export (fill the cache), check nothing")
    parser.add_argument("models", nargs="*", help="models to check (default: all)")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    torch.set_num_threads(1)
    names = args.models or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown models: {unknown}; known: {sorted(MODELS)}")
        return 2
    results = []
    # The engine's input and output files are this process's own: CTest runs one model per process, in parallel.
    workdir = tempfile.mkdtemp(prefix="zoo-")
    for name in names:
        for opset in (DEFAULT_OPSET, *EXTRA_OPSETS.get(name, ())):
            if args.export_only:
                export(name, opset, args.cache)
                print(f"exported {name} opset {opset}", flush=True)
                continue
            results.append(check(name, opset, args.runner, args.cache, workdir))
    shutil.rmtree(workdir, ignore_errors=True)
    if args.export_only:
        return 0
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
