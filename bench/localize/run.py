#!/usr/bin/python3
"""Dense sliding-window maps: Fovea's fully-convolutional pass vs classifying each window separately (dense_bench),
and vs PyTorch running the same fully-convolutional network on the same weights. Ours and PyTorch's runs alternate
round by round so that the shared machine's clock drift hits both; ratios are taken within each round.

usage: bench/localize/run.py --dense-bench build/bin/dense_bench [--model models/fashion-mnist/1/model.onnx]
                             [--threads 1,2] [--rounds 3] [--size 224] [--stride 4]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ITEM_SIZE = 28
# Ten Fashion-MNIST test items spread over the canvas, as (test index, x, y).
SCENE_ITEMS = [(0, 10, 12), (1, 70, 20), (2, 150, 8), (3, 30, 90), (4, 110, 80), (5, 180, 100),
               (6, 16, 170), (7, 90, 160), (8, 150, 180), (9, 190, 40)]


class FullyConvolutional(torch.nn.Module):
    """The ONNX classifier rebuilt in torch with its head as convolutions: GlobalAveragePool becomes AvgPool2d over
    the feature map size at the model input (stride 1), Gemm becomes a 1x1 convolution, softmax over channels."""

    def __init__(self, model_path, input_size):
        super().__init__()
        model = onnx.load(model_path)
        weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
        layers = []
        for node in model.graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv":
                w = weights[node.input[1]]
                conv = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(attrs.get("strides", [1, 1])),
                                       padding=tuple(attrs.get("pads", [0, 0, 0, 0])[:2]), bias=len(node.input) > 2)
                conv.weight.data = w
                if len(node.input) > 2:
                    conv.bias.data = weights[node.input[2]]
                layers.append(conv)
            elif node.op_type == "BatchNormalization":
                scale, shift, mean, var = (weights[n] for n in node.input[1:5])
                bn = torch.nn.BatchNorm2d(scale.shape[0], eps=attrs.get("epsilon", 1e-5))
                bn.weight.data, bn.bias.data, bn.running_mean.data, bn.running_var.data = scale, shift, mean, var
                layers.append(bn)
            elif node.op_type == "Relu":
                layers.append(torch.nn.ReLU())
            elif node.op_type == "MaxPool":
                layers.append(torch.nn.MaxPool2d(tuple(attrs["kernel_shape"]), tuple(attrs["strides"])))
            elif node.op_type == "GlobalAveragePool":
                with torch.no_grad():
                    feature = torch.nn.Sequential(*layers).eval()(torch.zeros(1, 1, input_size, input_size))
                layers.append(torch.nn.AvgPool2d(tuple(feature.shape[2:]), stride=1))
            elif node.op_type == "Flatten":
                continue
            elif node.op_type == "Gemm":
                w = weights[node.input[1]]
                if not attrs.get("transB", 0):
                    w = w.t()
                head = torch.nn.Conv2d(w.shape[1], w.shape[0], 1)
                head.weight.data = w.reshape(w.shape[0], w.shape[1], 1, 1).contiguous()
                head.bias.data = weights[node.input[2]]
                layers.append(head)
            elif node.op_type == "Softmax":
                layers.append(torch.nn.Softmax(dim=1))
            else:
                raise SystemExit(f"unsupported op {node.op_type}")
        self.net = torch.nn.Sequential(*layers)
        self.eval()

    def forward(self, x):
        return self.net(x)


def make_scene(path, size):
    """A size x size float32 scene of Fashion-MNIST test items on black, pixels scaled to [0, 1]."""
    png = path + ".png"
    args = [sys.executable, os.path.join(HERE, "make_example_scene.py"), png, "--size", f"{size}x{size}"]
    for index, x, y in SCENE_ITEMS:
        if x + ITEM_SIZE <= size and y + ITEM_SIZE <= size:
            args += ["--item", f"{index}@{x},{y}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    import cv2
    pixels = cv2.imread(png, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0  # the model's mean 0, std 1
    pixels.tofile(path)
    return pixels


def time_torch(module, x, rounds):
    """Median wall and process CPU seconds of one forward pass, and its output."""
    wall, cpu = [], []
    with torch.no_grad():
        module(x)
        for _ in range(rounds):
            start, cpu_start = time.perf_counter(), time.process_time()
            out = module(x)
            cpu.append(time.process_time() - cpu_start)
            wall.append(time.perf_counter() - start)
    return statistics.median(wall), statistics.median(cpu), out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dense-bench", required=True)
    parser.add_argument("--model", default="models/fashion-mnist/1/model.onnx")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--stride", type=int, default=4)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="fovea-dense-")
    scene_path = os.path.join(tmp, "scene.f32")
    pixels = make_scene(scene_path, args.size)
    x = torch.from_numpy(pixels).reshape(1, 1, args.size, args.size)
    eager = FullyConvolutional(args.model, ITEM_SIZE)
    with torch.no_grad():
        scripted = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(eager, x)))
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive")
        rows = []
        for _ in range(args.rounds):
            map_path = os.path.join(tmp, "map.f32")
            ours = json.loads(subprocess.run(
                [args.dense_bench, args.model, "--image", scene_path, "--size", str(args.size), "--stride",
                 str(args.stride), "--rounds", "3", "--map-out", map_path],
                check=True, capture_output=True, text=True, env=env).stdout)
            eager_s, eager_cpu_s, out = time_torch(eager, x, 5)
            scripted_s, scripted_cpu_s, _ = time_torch(scripted, x, 5)
            ours_map = np.fromfile(map_path, dtype=np.float32).reshape(out.shape[1:])
            rows.append(dict(ours, torch_eager_ms=eager_s * 1e3, torch_script_ms=scripted_s * 1e3,
                             torch_eager_cpu_ms=eager_cpu_s * 1e3, torch_script_cpu_ms=scripted_cpu_s * 1e3,
                             torch_max_abs_difference=float(np.abs(out.numpy()[0] - ours_map).max())))
        for row in rows:
            print(json.dumps(dict(row, threads=threads)))
        median = lambda key: statistics.median(r[key] for r in rows)
        print(f"threads {threads}: dense {median('dense_ms'):.1f} ms, per-window {median('per_window_ms'):.0f} ms "
              f"(speedup {statistics.median(r['per_window_ms'] / r['dense_ms'] for r in rows):.1f}x wall, "
              f"{statistics.median(r['cpu_speedup'] for r in rows):.1f}x CPU time), "
              f"torch eager {median('torch_eager_ms'):.1f} ms, torchscript {median('torch_script_ms'):.1f} ms "
              f"(ours/best torch: wall {statistics.median(r['dense_ms'] / min(r['torch_eager_ms'], r['torch_script_ms']) for r in rows):.2f}, "
              f"CPU {statistics.median(r['dense_cpu_ms'] / min(r['torch_eager_cpu_ms'], r['torch_script_cpu_ms']) for r in rows):.2f}), "
              f"max |ours - torch| {max(r['torch_max_abs_difference'] for r in rows):.2e}, "
              f"dense vs per-window: max |diff| {rows[0]['max_abs_difference']:.3f}, "
              f"top-1 agreement {rows[0]['top1_agreement']:.3f} (non-blank windows {rows[0]['non_blank_top1_agreement']:.3f})")


if __name__ == "__main__":
    main()
