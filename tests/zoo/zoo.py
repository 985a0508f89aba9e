#!/usr/bin/python3
"""The model zoo test: torchvision architectures a user would bring, exported by torch.onnx with random weights, must
load in Fovea and compute what PyTorch computes.

One invocation checks one model at its opsets: export (cached in --cache, so a second run only checks), run PyTorch at
batch 1 and 3, run the engine on the same inputs through onnx_run, and compare every output:
max |fovea - torch| / max |torch| <= 1e-4. A model that cannot export, load or run is a failure, never a skip.

The fully convolutional models in OTHER_SIZES are exported with free height and width as well as batch, as a user
serving them at any image size would, and are checked again at batch 1 at that other, non-square size: one file, any
size.
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
    def make():
        return getattr(torchvision.models, name)(weights=None), size
    # Tagged so that the zoo benchmark (bench/zoo/run.py) lists the classifiers and their sides without building.
    make.task, make.side = "classify", size
    return make


def segmentation(name, size=224):
    def make():
        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None, num_classes=21)
        return FirstOutput(model), size
    make.task, make.side = "segment", size
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


# Classifiers among OTHER_SIZES: their output is [batch, classes] whatever the image size.
CLASSIFIER_HEADS = {"resnet18"}

# Models exported with free height and width, and the (height, width) they are checked at besides their own size.
OTHER_SIZES = {
    "resnet18": (256, 192),
    "fcn_resnet50": (200, 168),
    "deeplabv3_mobilenet_v3_large": (160, 192),
    "lraspp_mobilenet_v3_large": (160, 192),
}


def classifier_sides():
    """name -> input side (pixels) of every classifier in MODELS, in MODELS' order: what bench/zoo/run.py times."""
    return {name: make.side for name, make in MODELS.items() if make.task == "classify"}


def relative_difference(got, expected):
    """max |got - expected| / max |expected|: the zoo's measure of agreement (MAX_RELATIVE_DIFF bounds it)."""
    return float(np.max(np.abs(got - expected)) / max(float(np.max(np.abs(expected))), 1e-12))


def randomize(model, generator):
    """Random weights as torchvision initializes them, plus BatchNorm statistics that are not the identity."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)


def build(name):
    """The model with the zoo's random weights (the same on every call), in eval mode, its input side, and the
    generator that drew its BatchNorm statistics (export draws the test inputs from it next)."""
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model, size = MODELS[name]()
    randomize(model, generator)
    model.eval()
    return model, size, generator


def export(name, opset, cache):
    """Exports (or finds) the model and the PyTorch outputs for each batch size; returns the file paths."""
    other_size = OTHER_SIZES.get(name)
    base = os.path.join(cache, f"{name}_op{opset}" + ("_anysize" if other_size else ""))
    onnx_path = base + ".onnx"
    # Cases: (batch, height, width) -> input and expected output files.
    cases = [(b, None) for b in BATCHES] + ([(1, other_size)] if other_size else [])
    inputs = {c: f"{base}_in{c[0]}" + (f"_{c[1][0]}x{c[1][1]}" if c[1] else "") + ".npy" for c in cases}
    outputs = {c: path.replace("_in", "_out") for c, path in inputs.items()}
    if all(os.path.exists(p) for p in [onnx_path, *inputs.values(), *outputs.values()]):
        return onnx_path, inputs, outputs
    model, size, generator = build(name)
    for case in cases:
        batch, (height, width) = case[0], case[1] or (size, size)
        x = torch.randn(batch, 3, height, width, generator=generator)
        with torch.no_grad():
            y = model(x)
        np.save(inputs[case], x.numpy())
        np.save(outputs[case], y.numpy())
    x = torch.randn(1, 3, size, size, generator=generator)
    temporary = onnx_path + ".partial"
    free_axes = {0: "batch", 2: "height", 3: "width"} if other_size else {0: "batch"}
    output_axes = free_axes if other_size and name not in CLASSIFIER_HEADS else {0: "batch"}
    torch.onnx.export(model, x, temporary, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": free_axes, "output": output_axes})
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
        for case, input_path in inputs.items():
            expected = np.load(outputs[case])
            started = time.monotonic()
            got = run_engine(runner, onnx_path, input_path, workdir)
            shown = f"batch {case[0]}" + (f" at {case[1][0]}x{case[1][1]}" if case[1] else "")
            if got.shape != expected.shape:
                print(f"FAIL {label} {shown}: output shape {got.shape}, PyTorch {expected.shape}")
                return False
            rel = relative_difference(got, expected)
            ok = rel <= MAX_RELATIVE_DIFF
            print(f"{'PASS' if ok else 'FAIL'} {label} {shown}: max relative difference {rel:.2e} "
                  f"(limit {MAX_RELATIVE_DIFF:.0e}), output {list(got.shape)}, engine {time.monotonic() - started:.1f} s, "
                  f"export {exported:.1f} s", flush=True)
            if not ok:
                return False
        return True
    except Exception as error:  # noqa: BLE001 -- any failure to export, load or run is this model's failure
        print(f"FAIL {label}: {error}")
        return False


def run_checks(description, runner_name, checkers, prefix):
    """The command line of a zoo check driven by a runner binary (grad_cam.py, dense_maps.py): --runner, --cache and
    the models to check (default: every model in `checkers`, which maps a name to its check(name, runner, cache,
    workdir) -> bool). An exception while exporting, loading or running is that model's failure. Returns the exit
    status."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runner", required=True, help=f"path to the {runner_name} binary")
    parser.add_argument("--cache", required=True, help="the zoo's export cache (tests/zoo/zoo.py)")
    parser.add_argument("models", nargs="*", help="models to check (default: all)")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    torch.set_num_threads(1)
    names = args.models or list(checkers)
    unknown = [n for n in names if n not in checkers]
    if unknown:
        print(f"unknown models: {unknown}; known: {sorted(checkers)}")
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        for name in names:
            try:
                results.append(checkers[name](name, args.runner, args.cache, workdir))
            except Exception as error:  # noqa: BLE001 -- any failure to export, load or run is this model's failure
                print(f"FAIL {name}: {error}")
                results.append(False)
    return 0 if all(results) else 1


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
