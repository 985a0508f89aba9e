#!/usr/bin/python3
"""Grad-CAM (and CAM) against PyTorch on zoo models: the engine's map must equal PyTorch's on the same weights, image,
class and layer, max |fovea - torch| / max |torch| <= 1e-4.

For each model, two layers: the engine's default (the last convolution whose output has spatial extent; the test
checks which value the engine picked) and an earlier block's output, from which the gradient runs back through
residual sums, Inception or DenseNet concatenations and squeeze-excitation products. PyTorch's side hooks the module
whose output that value is, and takes autograd's gradient of the class logit. The compared map is the raw
sum_k mean(dy/dA_k) * A_k, negative cells included: the engine applies its ReLU and scaling to [0, 1] only when it
answers Localize (engine/localization/cam.cc, NormalizeToUnit), so the raw map is the stricter comparison.

CAM, at the default layer's run, maps the value the global average pooling reads with the classifier's row of the
class (PyTorch: the pooling's input and the last Linear's weights); MobileNetV3's head (Linear, HardSwish, Linear) is
not linear after the pooling, and the engine must say so instead of answering.

Every other classifier of the zoo (GEOMETRY_ONLY) gets the weaker check that it has a Grad-CAM map at all, from the
engine's default layer: finite, not constant, and of the [h, w] that ONNX shape inference gives that layer's value at
the model's input size (h, w > 1: a layer with spatial extent). The segmentation nets of the zoo are localized by
SEGMENTATION instead (tests/zoo/segmentation_maps.py).

The models and their weights are tests/zoo/zoo.py's (same seed, same export cache).
"""
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import torch

import zoo

MAX_RELATIVE_DIFF = 1e-4
INPUT_SEED = 4321

# model -> [(engine value, PyTorch module whose output it is)]: first the engine's default target, then an earlier
# block. Names are torch.onnx's (1.13) for the zoo's export; the engine's fused nodes keep the last fused node's name.
LAYERS = {
    "resnet18": [
        # The last convolution with its BatchNorm, residual sum and ReLU fused in: the last block's output.
        ("/layer4/layer4.1/relu_1/Relu_output_0", "layer4.1"),
        ("/layer3/layer3.1/relu_1/Relu_output_0", "layer3.1"),
    ],
    "googlenet": [
        # The last convolution in graph order is one branch of the last Inception block; its gradient comes through
        # the Concat.
        ("/inception5b/branch4/branch4.1/Relu_output_0", "inception5b.branch4"),
        ("/inception5a/Concat_output_0", "inception5a"),
    ],
    "densenet121": [
        ("/features/denseblock4/denselayer16/conv2/Conv_output_0", "features.denseblock4.denselayer16.conv2"),
        ("/features/transition3/pool/AveragePool_output_0", "features.transition3"),
    ],
    "mobilenet_v3_large": [
        # The last convolution (its BatchNorm folded by the export) before its HardSwish (HardSigmoid times x).
        ("/features/features.16/features.16.0/Conv_output_0", "features.16.1"),
        ("/features/features.14/Add_output_0", "features.14"),
    ],
    "efficientnet_b0": [
        ("/features/features.8/features.8.0/Conv_output_0", "features.8.1"),
        ("/features/features.6/features.6.3/Add_output_0", "features.6"),
    ],
    "shufflenet_v2_x1_0": [
        ("/conv5/conv5.2/Relu_output_0", "conv5"),
        # Through stage4's channel split (Slice), branches, Concat and channel shuffle.
        ("/stage3/stage3.7/Reshape_1_output_0", "stage3"),
    ],
}


# model -> how PyTorch computes CAM: the module whose input (or output) is the pooled map, a function applied to it,
# and the classifier weights; None where the head is not linear after the pooling (the engine must refuse CAM).
CAM_HEADS = {
    "resnet18": ("avgpool", "input", None, lambda m: m.fc.weight),
    "googlenet": ("avgpool", "input", None, lambda m: m.fc.weight),
    # DenseNet pools relu(features(x)) with torch.nn.functional, so the hook is on the features.
    "densenet121": ("features", "output", torch.relu, lambda m: m.classifier.weight),
    "mobilenet_v3_large": None,
    "efficientnet_b0": ("avgpool", "input", None, lambda m: m.classifier[1].weight),
    # ShuffleNetV2 pools with x.mean([2, 3]) (ReduceMean in the graph) after conv5.
    "shufflenet_v2_x1_0": ("conv5", "output", None, lambda m: m.fc.weight),
}


GEOMETRY_ONLY = [
    "resnet50", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b3",
    "efficientnet_v2_s", "squeezenet1_1", "inception_v3", "mnasnet1_0", "regnet_y_400mf", "regnet_x_1_6gf",
    "convnext_tiny", "vgg11_bn", "alexnet",
]


def onnx_file(name, cache):
    onnx_path, _, _ = zoo.export(name, zoo.DEFAULT_OPSET, cache)
    return onnx_path


def torch_grad_cam(model, module_name, x):
    """PyTorch's top-1 class, its raw Grad-CAM map [h, w] of `module_name`'s output, and the logits."""
    kept = {}
    handle = model.get_submodule(module_name).register_forward_hook(lambda m, i, out: kept.update(feature=out))
    try:
        logits = model(x)
    finally:
        handle.remove()
    feature = kept["feature"]
    class_index = int(torch.argmax(logits[0]))
    (gradient,) = torch.autograd.grad(logits[0, class_index], feature)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    return class_index, (weights * feature).sum(dim=1)[0].detach().numpy(), logits[0].detach().numpy()


def torch_cam(name, model, x, class_index):
    """PyTorch's raw CAM map [h, w]: the classifier row of the class times the map the global pooling reads."""
    module_name, side, transform, weights = CAM_HEADS[name]
    kept = {}
    handle = model.get_submodule(module_name).register_forward_hook(
        lambda m, i, out: kept.update(pooled=i[0] if side == "input" else out))
    try:
        with torch.no_grad():
            model(x)
            pooled = transform(kept["pooled"]) if transform else kept["pooled"]
            return torch.einsum("k,khw->hw", weights(model)[class_index], pooled[0]).numpy()
    finally:
        handle.remove()


def engine_grad_cam(runner, onnx_path, x, class_index, layer, workdir):
    raw = os.path.join(workdir, "input.bin")
    x.detach().numpy().astype(np.float32).tofile(raw)
    shape = ",".join(str(d) for d in x.shape)
    command = [runner, onnx_path, raw, shape, str(class_index)] + ([layer] if layer else [])
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"grad_cam_run exited {run.returncode}: {run.stderr.strip()}")
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in run.stdout.splitlines()}
    height, width, *values = lines["map"].split()
    grad_map = np.array(values, dtype=np.float64).reshape(int(height), int(width))
    logits = np.array(lines["logits"].split(), dtype=np.float64)
    cam = None
    if "cam" in lines and not lines["cam"].startswith("unavailable"):
        cam_height, cam_width, *cam_values = lines["cam"].split()
        cam = np.array(cam_values, dtype=np.float64).reshape(int(cam_height), int(cam_width))
    return lines["target"], grad_map, logits, float(lines["seconds"]), cam, lines.get("cam", "")


def relative(got, expected):
    return float(np.max(np.abs(got - expected)) / max(float(np.max(np.abs(expected))), 1e-12))


def check_cam(name, model, x, class_index, cam, cam_line):
    """The engine's CAM against PyTorch's where the head allows CAM, and a refusal where it does not."""
    if CAM_HEADS[name] is None:
        passed = cam is None and cam_line.startswith("unavailable")
        print(f"{'PASS' if passed else 'FAIL'} {name} CAM refused: {cam_line}")
        return passed
    if cam is None:
        print(f"FAIL {name} CAM: {cam_line or 'no CAM map'}")
        return False
    expected = torch_cam(name, model, x, class_index)
    if cam.shape != expected.shape:
        print(f"FAIL {name} CAM: map {cam.shape}, PyTorch {expected.shape}")
        return False
    rel = relative(cam, expected)
    passed = rel <= MAX_RELATIVE_DIFF
    print(f"{'PASS' if passed else 'FAIL'} {name} CAM, class {class_index}: map {list(cam.shape)} max relative "
          f"difference {rel:.2e} (limit {MAX_RELATIVE_DIFF:.0e})")
    return passed


def check(name, runner, cache, workdir):
    started = time.monotonic()
    onnx_path = onnx_file(name, cache)
    model, size, _ = zoo.build(name)
    # In-place activations would overwrite the hooked feature map before autograd reads it.
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(INPUT_SEED)).requires_grad_(True)
    ok = True
    for i, (value, module_name) in enumerate(LAYERS[name]):
        default = i == 0
        class_index, expected_map, torch_logits = torch_grad_cam(model, module_name, x)
        target, got_map, logits, seconds, cam, cam_line = engine_grad_cam(runner, onnx_path, x, class_index,
                                                                          None if default else value, workdir)
        if default:
            ok = check_cam(name, model, x, class_index, cam, cam_line) and ok
        label = f"{name} {'default layer' if default else 'layer'} {target} ({module_name}), class {class_index}"
        if target != value:
            print(f"FAIL {label}: the engine explained '{target}', expected '{value}'")
            ok = False
            continue
        if got_map.shape != expected_map.shape:
            print(f"FAIL {label}: map {got_map.shape}, PyTorch {expected_map.shape}")
            ok = False
            continue
        logits_rel, map_rel = relative(logits, torch_logits), relative(got_map, expected_map)
        passed = logits_rel <= MAX_RELATIVE_DIFF and map_rel <= MAX_RELATIVE_DIFF
        print(f"{'PASS' if passed else 'FAIL'} {label}: map {list(got_map.shape)} max relative difference "
              f"{map_rel:.2e}, logits {logits_rel:.2e} (limit {MAX_RELATIVE_DIFF:.0e}); engine Grad-CAM "
              f"{seconds:.2f} s", flush=True)
        ok = ok and passed
    print(f"{name}: {time.monotonic() - started:.1f} s in all", flush=True)
    return ok


def value_spatial_size(onnx_path, value, size):
    """(h, w) of `value` when the exported model runs on one size x size image, by ONNX shape inference."""
    model = onnx.load(onnx_path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, fixed in zip(dims, (1, 3, size, size)):
        dim.ClearField("dim_param")
        dim.dim_value = fixed
    inferred = onnx.shape_inference.infer_shapes(model)
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        if info.name == value:
            shape = [d.dim_value for d in info.type.tensor_type.shape.dim]
            return tuple(shape[2:]) if len(shape) == 4 else None
    return None


def check_geometry(name, runner, cache, workdir):
    """A Grad-CAM map exists at the engine's default layer, with that layer's spatial size."""
    started = time.monotonic()
    onnx_path = onnx_file(name, cache)
    _, size, _ = zoo.build(name)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(INPUT_SEED))
    target, got_map, logits, seconds, _, cam_line = engine_grad_cam(runner, onnx_path, x, 0, None, workdir)
    expected = value_spatial_size(onnx_path, target, size)
    problems = []
    if expected is None:
        problems.append(f"shape inference has no [N, C, h, w] value '{target}'")
    elif got_map.shape != expected:
        problems.append(f"map {got_map.shape}, the layer's size is {expected}")
    if min(got_map.shape) < 2:
        problems.append(f"map {got_map.shape} has no spatial extent")
    if not np.all(np.isfinite(got_map)) or float(np.ptp(got_map)) == 0.0:
        problems.append("map is not finite or is constant")
    if not np.all(np.isfinite(logits)):
        problems.append("logits are not finite")
    verdict = "FAIL" if problems else "PASS"
    cam = "CAM too" if cam_line and not cam_line.startswith("unavailable") else f"CAM {cam_line or 'not reported'}"
    print(f"{verdict} {name} Grad-CAM map {list(got_map.shape)} at {target}: {'; '.join(problems) or 'right size'}; "
          f"{cam}; Grad-CAM {seconds:.2f} s, {time.monotonic() - started:.1f} s in all", flush=True)
    return not problems


def main():
    checkers = {name: check for name in LAYERS} | {name: check_geometry for name in GEOMETRY_ONLY}
    return zoo.run_checks(__doc__, "grad_cam_run", checkers, "grad-cam-")


if __name__ == "__main__":
    sys.exit(main())
