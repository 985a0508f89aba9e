#!/usr/bin/python3
"""Dense sliding-window maps on zoo models: where the engine makes one, it must be PyTorch's fully-convolutional
computation on the same weights; where it refuses, it must refuse with FAILED_PRECONDITION naming the node, for the
reason this test expects. Each model is in exactly one of the two tables below; a model that changes category fails.

DENSE models: the engine reports its natural stride s and window w (the model input side); the image is
w + k*s pixels a side, k the smallest with w + k*s >= 1.5 w. The engine's map at stride s must have
(side - w) / s + 1 rows and columns and the window geometry (stride s, offset w / 2, window w). PyTorch's side: hook the
map the head pools or flattens (the input or output of TRUNK_END's module) on the large image; a global-pooling head
average-pools it with the kernel that map has at the model input and stride 1 and applies the classifier layers to
every cell; a flattening head (VGG, AlexNet) applies its first Linear as a convolution whose kernel is that map's size,
the later layers per cell; softmax over the classes. max |fovea - torch| <= 1e-5 over every cell and class. The zoo's
random weights make some softmaxes nearly one-hot (ResNet-50, Inception-v3: logits in the hundreds or more), where that
says little; so the log-probabilities are compared too wherever both are above 1e-30 (these are the logits up to each
cell's constant; limit 1e-4 of the largest compared |log p|), and each cell's most probable class must agree.

REFUSED models: the engine must answer FAILED_PRECONDITION naming the node (the text given) and pointing at Grad-CAM.

The models and their weights are tests/zoo/zoo.py's (same seed, same export cache).
"""
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch

import zoo

MAX_ABS_DIFF = 1e-5
MIN_COMPARED_PROBABILITY = 1e-30
MAX_RELATIVE_LOG_DIFF = 1e-4  # of the largest compared |log p|, like zoo.py's limit relative to the logits
MIN_SIDE_FACTOR = 1.5
INPUT_SEED = 5678


def linears(*path):
    """The classifier layers after the pooling, in order (Dropout is the identity in eval mode)."""
    def layers(model):
        module = model.get_submodule(".".join(path)) if path else model
        modules = list(module) if isinstance(module, torch.nn.Sequential) else [module]
        return [m for m in modules if not isinstance(m, torch.nn.Dropout)]
    return layers


# model -> (module, "input" or "output": where the pooled or flattened map is, a function applied to it, "gap" or
# "flatten", the classifier layers after the pooling or Flatten).
DENSE = {
    "resnet18": ("avgpool", "input", None, "gap", linears("fc")),
    "resnet50": ("avgpool", "input", None, "gap", linears("fc")),
    "resnext50_32x4d": ("avgpool", "input", None, "gap", linears("fc")),
    "wide_resnet50_2": ("avgpool", "input", None, "gap", linears("fc")),
    "regnet_x_1_6gf": ("avgpool", "input", None, "gap", linears("fc")),
    # Inception branches joined by Concat in the trunk.
    "googlenet": ("avgpool", "input", None, "gap", linears("fc")),
    "inception_v3": ("avgpool", "input", None, "gap", linears("fc")),
    # MobileNetV2 pools with torch.nn.functional after its features.
    "mobilenet_v2": ("features", "output", None, "gap", linears("classifier")),
    # DenseNet pools relu(features(x)) with torch.nn.functional; its transitions' Pad + AveragePool are in the trunk.
    "densenet121": ("features", "output", torch.relu, "gap", linears("classifier")),
    # MNASNet pools with x.mean([2, 3]), a ReduceMean in the graph.
    "mnasnet1_0": ("layers", "output", None, "gap", linears("classifier")),
    # SqueezeNet's class scores are the pooled channels themselves: no layer after the pooling.
    "squeezenet1_1": ("classifier.3", "input", None, "gap", lambda model: []),
    # The adaptive pooling before the Flatten is the identity at the model input (exported as a 1x1 AveragePool); on a
    # larger image it would resize the map, so PyTorch's side reads its input.
    "vgg11_bn": ("avgpool", "input", None, "flatten", linears("classifier")),
    "alexnet": ("avgpool", "input", None, "flatten", linears("classifier")),
}

# model -> text the refusal must contain (the node's name, as torch.onnx wrote it).
REFUSED = {
    # A squeeze-excitation's global pooling inside the trunk would pool the whole larger image.
    "mobilenet_v3_small": "/features/features.1/block/block.1/avgpool/GlobalAveragePool",
    "mobilenet_v3_large": "/features/features.4/block/block.2/avgpool/GlobalAveragePool",
    "efficientnet_b0": "/features/features.1/features.1.0/block/block.1/avgpool/GlobalAveragePool",
    "efficientnet_b3": "/features/features.1/features.1.0/block/block.1/avgpool/GlobalAveragePool",
    "efficientnet_v2_s": "/features/features.4/features.4.0/block/block.2/avgpool/GlobalAveragePool",
    "regnet_y_400mf": "/trunk_output/block1/block1-0/f/se/avgpool/GlobalAveragePool",
    # The channel split and shuffle read the map's size at run time (Shape, then Slice and Reshape of computed ranges).
    "shufflenet_v2_x1_0": "Shape node '/stage2/stage2.0/Shape'",
    # LayerNorm2d after the pooling, written as Transpose, LayerNorm, Transpose.
    "convnext_tiny": "Transpose node '/classifier/classifier.0/Transpose_1'",
}


def run_engine(runner, onnx_path, size, x=None, workdir=None):
    """The runner's lines as {first word: rest}."""
    command = [runner, onnx_path, str(size)]
    if x is not None:
        raw = os.path.join(workdir, "input.bin")
        x.numpy().astype(np.float32).tofile(raw)
        command += [raw, ",".join(str(d) for d in x.shape)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"dense_run exited {run.returncode}: {run.stderr.strip()}")
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in run.stdout.splitlines()}


class Captured(Exception):
    """Stops the forward pass once the hooked map is kept (a flattening head would not accept a larger map)."""


def hooked_map(name, model, x):
    module_name, side, transform, _, _ = DENSE[name]

    def keep(module, inputs, output):
        kept.append(inputs[0] if side == "input" else output)
        raise Captured()

    kept = []
    handle = model.get_submodule(module_name).register_forward_hook(keep)
    try:
        with torch.no_grad():
            model(x)
    except Captured:
        pass
    finally:
        handle.remove()
    return transform(kept[0]) if transform else kept[0]


def torch_dense(name, model, x, size):
    """[classes, rows, cols] softmax probabilities of PyTorch's fully-convolutional pass over x."""
    _, _, _, head, layers = DENSE[name]
    window = hooked_map(name, model, torch.zeros(1, 3, size, size)).shape[2:]
    feature = hooked_map(name, model, x)
    layers = layers(model)
    with torch.no_grad():
        if head == "gap":
            cells = torch.nn.functional.avg_pool2d(feature, kernel_size=tuple(window), stride=1)
        else:
            first = layers.pop(0)
            kernel = first.weight.reshape(first.out_features, feature.shape[1], *window)
            cells = torch.nn.functional.conv2d(feature, kernel, first.bias)
        rows, cols = cells.shape[2:]
        vectors = cells[0].permute(1, 2, 0).reshape(rows * cols, -1)
        for layer in layers:
            vectors = layer(vectors)
        probabilities = torch.softmax(vectors.double(), dim=1)
    return probabilities.reshape(rows, cols, -1).permute(2, 0, 1).numpy()


def check_dense(name, runner, onnx_path, size, info, workdir):
    stride, window_h, window_w = (int(v) for v in info.replace("stride", "").replace("window", "").split())
    if (window_h, window_w) != (size, size):
        print(f"FAIL {name}: engine window {window_h}x{window_w}, the model input is {size}x{size}")
        return False
    side = size + stride * math.ceil((MIN_SIDE_FACTOR - 1) * size / stride)
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(INPUT_SEED))
    lines = run_engine(runner, onnx_path, size, x, workdir)
    classes, rows, cols, *values = lines["map"].split()
    got = np.array(values, dtype=np.float64).reshape(int(classes), int(rows), int(cols))
    geometry = [float(v) for v in lines["geometry"].split()]
    expected_cells = (side - size) // stride + 1
    problems = []
    if got.shape[1:] != (expected_cells, expected_cells):
        problems.append(f"map {got.shape[1]}x{got.shape[2]}, geometry says {expected_cells}x{expected_cells}")
    if geometry != [stride, stride, size / 2, size / 2, size, size]:
        problems.append(f"geometry {geometry}, expected stride {stride}, offset {size / 2}, window {size}")
    model, _, _ = zoo.build(name)
    expected = torch_dense(name, model, x, size)
    if expected.shape[0] != got.shape[0] or expected.shape[1] < got.shape[1] or expected.shape[2] < got.shape[2]:
        problems.append(f"PyTorch's map is {list(expected.shape)}, the engine's {list(got.shape)}")
        diff = float("inf")
    else:
        expected = expected[:, :got.shape[1], :got.shape[2]]
        diff = float(np.max(np.abs(got - expected)))
        if not diff <= MAX_ABS_DIFF:
            problems.append(f"max abs difference {diff:.2e} over the limit {MAX_ABS_DIFF:.0e}")
        # Where the random weights make the softmax nearly one-hot, the absolute difference says little: compare the
        # log-probabilities wherever both are representable, which are the logits up to each cell's constant.
        both = (got > MIN_COMPARED_PROBABILITY) & (expected > MIN_COMPARED_PROBABILITY)
        log_diff = float(np.max(np.abs(np.log(got[both]) - np.log(expected[both]))))
        log_limit = MAX_RELATIVE_LOG_DIFF * max(1.0, float(np.max(np.abs(np.log(expected[both])))))
        if not log_diff <= log_limit:
            problems.append(f"log-probabilities differ by {log_diff:.2e}, over the limit {log_limit:.1e}")
        if not np.array_equal(got.argmax(axis=0), expected.argmax(axis=0)):
            problems.append("the most probable class differs in some cells")
        print(f"  {name}: top probability {float(expected.max()):.3g}; log-probabilities of {float(np.mean(both)):.1%} "
              f"of the entries compared, max difference {log_diff:.2e} (limit {log_limit:.1e}); top-1 per cell "
              f"{'agrees' if 'most probable' not in ' '.join(problems) else 'differs'}")
    verdict = "FAIL" if problems else "PASS"
    print(f"{verdict} {name} dense on {side}x{side}: map {list(got.shape)} (PyTorch {list(expected.shape)}), "
          f"stride {stride}, window {size}; max abs difference {diff:.2e} (limit {MAX_ABS_DIFF:.0e}); "
          f"engine {float(lines['seconds']):.2f} s" + (f"; {'; '.join(problems)}" if problems else ""), flush=True)
    return not problems


def check(name, runner, cache, workdir):
    started = time.monotonic()
    onnx_path, _, _ = zoo.export(name, zoo.DEFAULT_OPSET, cache)
    _, size, _ = zoo.build(name)
    lines = run_engine(runner, onnx_path, size)
    if name in REFUSED:
        answer = lines["dense"]
        passed = (answer.startswith("refused FAILED_PRECONDITION") and REFUSED[name] in answer
                  and "GRAD_CAM" in answer)
        print(f"{'PASS' if passed else 'FAIL'} {name} dense {answer}")
        ok = passed
    elif lines["dense"].startswith("refused"):
        print(f"FAIL {name}: dense expected, the engine {lines['dense']}")
        ok = False
    else:
        ok = check_dense(name, runner, onnx_path, size, lines["dense"], workdir)
    print(f"{name}: {time.monotonic() - started:.1f} s in all", flush=True)
    return ok


def main():
    return zoo.run_checks(__doc__, "dense_run", {name: check for name in list(DENSE) + list(REFUSED)}, "dense-")


if __name__ == "__main__":
    sys.exit(main())
