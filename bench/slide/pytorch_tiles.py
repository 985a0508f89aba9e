#!/usr/bin/python3
"""Issue 24's speed line: `fovea slide`'s megapixels/s against PyTorch's fully-convolutional pass over the same tiles,
on a generated slide (default 4096 x 4096, seed 4, as exactness.py) and the bundled model.

Each round, per model version (1 fp32, 2 int8): a `fovea slide --no-tissue-mask --no-viewer` run through a fovea-server
with default flags (its summary's MP/s: end to end, reading the slide and writing the maps included, so conservative
for Fovea), then PyTorch over the same tiles (tile_plan.cc's rectangles, context included), held in memory and
preprocessed as the server does. PyTorch: version 1's ONNX graph read node by node, BatchNormalization folded, made
fully convolutional as Fovea does (global average pool -> average pool of the feature map's size at the model input,
stride 1; Gemm -> convolution; softmax over channels), float32, 2 threads, warmed up once; eager and TorchScript (trace
+ freeze + optimize_for_inference, as bench/localize/run.py); compute only ("incl. reading" adds decoding level 0 and
cutting the tiles). Ratio: Fovea MP/s / the faster PyTorch path's, same round; median and range over rounds.

Checks: on 28x28 crops the dense 1x1 map equals the ONNX graph's softmax and the server's Classify (version 1); the
stitched PyTorch map against each version's stored float maps: version 1 within 1e-4 (exit status 1 otherwise),
version 2 (int8) reported only. Every tile is in memory at once: for slides of a few thousand pixels a side.

usage: /usr/bin/python3 bench/slide/pytorch_tiles.py [--size 4096] [--slide PATH] [--versions 1,2] [--rounds 3]
       [--build build] [--work DIR]
"""
import argparse
import collections
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import grpc
import numpy as np
import onnx
import tifffile
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

MODEL = "fashion-mnist"
FP32_TOLERANCE = 1e-4
Tile = collections.namedtuple("Tile", "x y width height cell_x cell_y cells_w cells_h first_col first_row")


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def window(a):
    """(strides, padding, dilations) of a Conv or MaxPool; ONNX's defaults are 1, 0, 1."""
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:] or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError(f"asymmetric or automatic padding {pads} is not handled")
    return tuple(a.get("strides", (1, 1))), tuple(pads[:2]), tuple(a.get("dilations", (1, 1)))


def spatial_mean(node, a):
    return node.op_type == "GlobalAveragePool" or (node.op_type == "ReduceMean" and sorted(a.get("axes", [])) == [2, 3])


def run_classifier(nodes, weights, x):
    """The ONNX graph as it is (BatchNormalization unfolded, Gemm on the pooled vector): [N, classes]."""
    values = {nodes[0].input[0]: x}
    for node in nodes:
        a, ins, op = attributes(node), [values.get(n, weights.get(n)) for n in node.input if n], node.op_type
        if op == "Conv":
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, *window(a), a.get("group", 1))
        elif op == "BatchNormalization":
            y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], training=False, eps=a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(ins[0])
        elif op == "MaxPool":
            y = F.max_pool2d(ins[0], tuple(a["kernel_shape"]), *window(a), ceil_mode=bool(a.get("ceil_mode", 0)))
        elif spatial_mean(node, a):
            y = ins[0].mean((2, 3), keepdim=bool(a.get("keepdims", 1)))
        elif op == "Flatten":
            y = ins[0].reshape(int(np.prod(ins[0].shape[:a.get("axis", 1)])), -1)
        elif op == "Gemm":
            left, right = (ins[0].T if a.get("transA", 0) else ins[0]), (ins[1].T if a.get("transB", 0) else ins[1])
            y = a.get("alpha", 1.0) * left @ right + (a.get("beta", 1.0) * ins[2] if len(ins) > 2 else 0)
        elif op == "Softmax":
            y = F.softmax(ins[0], dim=a.get("axis", -1))
        else:
            raise ValueError(f"node {node.name} ({op}) is not handled")
        values[node.output[0]] = y
    return values[nodes[-1].output[0]]


def fully_convolutional(nodes, weights, input_shape):
    """The graph as an nn.Sequential [1, C, H, W] -> [1, classes, rows, cols] probabilities, its head rewritten as
    Fovea rewrites it. Only a chain of nodes is handled (this model is one)."""
    layers, head, kernel, current, softmax = [], False, (1, 1), nodes[0].input[0], False
    for node in nodes:
        if node.input[0] != current:
            raise ValueError(f"node {node.name} does not take the previous node's output")
        current, a, op = node.output[0], attributes(node), node.op_type
        if op == "Conv" and not head:
            w = weights[node.input[1]]
            conv = nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0], tuple(w.shape[2:]), *window(a),
                             a.get("group", 1))
            conv.weight.data = w.clone()
            conv.bias.data = weights[node.input[2]].clone() if len(node.input) > 2 else torch.zeros(w.shape[0])
            layers.append(conv)
        elif op == "BatchNormalization" and not head and isinstance(layers[-1], nn.Conv2d):
            # Folded in float64, as a deployment would: (conv(x) - mean) * gamma / sqrt(var + eps) + beta.
            gamma, beta, mean, var = (weights[n].double() for n in node.input[1:5])
            scale, conv = gamma / torch.sqrt(var + a.get("epsilon", 1e-5)), layers[-1]
            conv.weight.data = (conv.weight.data.double() * scale[:, None, None, None]).float()
            conv.bias.data = ((conv.bias.data.double() - mean) * scale + beta).float()
        elif op == "Relu":
            layers.append(nn.ReLU())
        elif op == "MaxPool" and not head:
            layers.append(nn.MaxPool2d(tuple(a["kernel_shape"]), *window(a), ceil_mode=bool(a.get("ceil_mode", 0))))
        elif not head and (op == "Flatten" or spatial_mean(node, a)):
            with torch.no_grad():
                features = nn.Sequential(*layers)(torch.zeros(1, *input_shape)).shape  # at the model input size
            head = True
            if op == "Flatten":  # a flattened spatial map: the next Gemm becomes a convolution of its size
                kernel = tuple(features[2:])
            else:  # global pooling: average pooling of the feature map's size, stride 1
                layers.append(nn.AvgPool2d(tuple(features[2:]), stride=1))
        elif op == "Flatten":
            pass  # after the pooling each cell's vector is already [C, 1, 1]
        elif op == "Gemm" and head and not a.get("transA", 0):
            w = a.get("alpha", 1.0) * (weights[node.input[1]] if a.get("transB", 0) else weights[node.input[1]].T)
            conv = nn.Conv2d(w.shape[1] // (kernel[0] * kernel[1]), w.shape[0], kernel)
            conv.weight.data = w.reshape(conv.weight.shape).contiguous()
            bias = weights[node.input[2]] if len(node.input) > 2 else torch.zeros(w.shape[0])
            conv.bias.data = (a.get("beta", 1.0) * bias).reshape(-1).clone()
            layers.append(conv)
            kernel = (1, 1)
        elif op == "Softmax" and head:
            layers.append(nn.Softmax(dim=1))
            softmax = True
        else:
            raise ValueError(f"node {node.name} ({op}) cannot become part of a fully-convolutional network")
    if not softmax:
        layers.append(nn.Softmax(dim=1))  # as Fovea: a model that outputs logits gets one
    return nn.Sequential(*layers).eval()


def preprocess(pixels, mean, std):
    """imageio's ConvertChannels then ToPlanarFloat, bit for bit: BT.601 luma in integers, rounded half up, then
    v * (1 / (255 std)) - mean / std in float32."""
    if pixels.ndim == 3:
        wide = pixels.astype(np.uint32)
        pixels = ((299 * wide[..., 0] + 587 * wide[..., 1] + 114 * wide[..., 2] + 500) // 1000).astype(np.uint8)
    scale = np.float32(1) / (np.float32(255) * np.float32(std))
    return torch.from_numpy(pixels.astype(np.float32) * scale - np.float32(mean) / np.float32(std))[None, None]


def plan_tiles(width, height, grid, tile_cells):
    """slide/tile_plan.cc's PlanTiles: (map rows, map cols, tiles in row-major order)."""
    stride = grid.natural_stride

    def spans(cells, size, window_side, before, after):  # AxisSpans: (first cell, end cell, first pixel, end pixel)
        for first in range(0, cells, tile_cells):
            end = min(cells, first + tile_cells)
            yield first, end, max(0, first * stride - before) // stride * stride, \
                min(size, (end - 1) * stride + window_side + after)
    cols = (width - grid.window_width) // stride + 1
    rows = (height - grid.window_height) // stride + 1
    tiles = [Tile(cb, rb, cs - cb, rs - rb, cf, rf, ce - cf, re - rf, cf - cb // stride, rf - rb // stride)
             for rf, re, rb, rs in spans(rows, height, grid.window_height, grid.context_top, grid.context_bottom)
             for cf, ce, cb, cs in spans(cols, width, grid.window_width, grid.context_left, grid.context_right)]
    return rows, cols, tiles


def load_tiles(slide, tiles, mean, std):
    """Every tile's model input, and the seconds spent decoding level 0, cutting and preprocessing."""
    start = time.perf_counter()
    pixels = tifffile.imread(slide, key=0)
    inputs = [preprocess(pixels[t.y:t.y + t.height, t.x:t.x + t.width], mean, std) for t in tiles]
    return inputs, time.perf_counter() - start


def torch_pass(net, inputs, tiles):
    """Compute seconds over every tile, and each tile's owned cells [classes, h, w]."""
    owned = []
    with torch.inference_mode():
        start = time.perf_counter()
        for t, x in zip(tiles, inputs):
            owned.append(net(x)[0, :, t.first_row:t.first_row + t.cells_h, t.first_col:t.first_col + t.cells_w])
        return time.perf_counter() - start, owned


def stitch(owned, tiles, rows, cols):
    full = np.zeros((owned[0].shape[0], rows, cols), dtype=np.float32)
    for t, cells in zip(tiles, owned):
        assert cells.shape[1:] == (t.cells_h, t.cells_w), "a tile's map is smaller than the cells it owns"
        full[:, t.cell_y:t.cell_y + t.cells_h, t.cell_x:t.cell_x + t.cells_w] = cells.numpy()
    return full


def fovea_run(build, server, version, slide, out, keep_maps):
    """`fovea slide` from scratch (a fresh --out: nothing resumes); its summary and, if asked, its float maps."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([os.path.join(build, "bin", "fovea"), "slide", slide, "--server", server.address, "--model", MODEL,
                    "--version", str(version), "--no-tissue-mask", "--no-viewer", "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, os.path.splitext(os.path.basename(slide))[0] + ".json")) as f:
        summary = json.load(f)
    m = summary["map"]
    maps = np.stack([np.fromfile(os.path.join(out, m["maps"], f"{slot}.f32"), dtype=np.float32)
                     .reshape(m["rows"], m["cols"]) for slot in range(len(m["classes"]))]) if keep_maps else None
    return summary, maps


def check_network(net, nodes, weights, fovea, v1, slide, mean, std):
    """Max |diff| on eight 28x28 crops of the slide: the dense 1x1 map against the ONNX graph's softmax, and that
    against the server's Classify of version 1 (the same RGB pixels, its own preprocessing)."""
    pixels = tifffile.imread(slide, key=0)
    rng = np.random.default_rng(0)
    crops = [pixels[y:y + 28, x:x + 28] for y, x in
             zip(rng.integers(0, pixels.shape[0] - 28, 8), rng.integers(0, pixels.shape[1] - 28, 8))]
    x = torch.cat([preprocess(c, mean, std) for c in crops])
    with torch.inference_mode():
        classifier, dense = run_classifier(nodes, weights, x), net(x)
    assert dense.shape[2:] == (1, 1), f"the dense map of a 28x28 input is {tuple(dense.shape[2:])}, not 1x1"
    request = v1.ClassifyRequest(model_name=MODEL, model_version=1, top_k=classifier.shape[1])
    for c in crops:
        image = request.images.add()
        image.tensor.dtype = v1.DATA_TYPE_UINT8
        image.tensor.shape.extend(c.shape if c.ndim == 3 else (*c.shape, 1))
        image.tensor.data = np.ascontiguousarray(c).tobytes()
    served = np.zeros(classifier.shape, dtype=np.float32)
    for i, result in enumerate(fovea.Classify(request, timeout=60).results):
        for p in result.predictions:
            served[i, p.class_index] = p.probability
    return float((dense[:, :, 0, 0] - classifier).abs().max()), float(np.abs(served - classifier.numpy()).max())


def cpu_name():
    out = subprocess.run(["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


def measure(args, work, slide, nets, mean, std, fovea, v1, server):
    """The interleaved rounds: per version, [(fovea MP/s, {path: (MP/s, MP/s incl. reading)})], tiles, slide MP and
    max |Fovea - PyTorch| (over the PyTorch paths, first round)."""
    rounds, facts, warm = {v: [] for v in args.versions}, {}, False
    for r in range(args.rounds):
        for v in args.versions:
            out = os.path.join(work, f"out-v{v}")
            summary, maps = fovea_run(args.build, server, v, slide, out, keep_maps=r == 0)
            shutil.rmtree(out, ignore_errors=True)
            grid = fovea.GetModel(v1.GetModelRequest(model_name=MODEL, model_version=v), timeout=60).dense
            rows, cols, tiles = plan_tiles(summary["width"], summary["height"], grid, summary["tiles"]["tile_cells"])
            if (rows, cols, len(tiles)) != (summary["map"]["rows"], summary["map"]["cols"], summary["tiles"]["total"]):
                raise RuntimeError("the Python tile plan is not the one fovea slide used")
            inputs, read_seconds = load_tiles(slide, tiles, mean, std)
            if not warm:  # the first pass sets PyTorch's kernels up: not counted (conservative for Fovea)
                for net in nets.values():
                    torch_pass(net, inputs, tiles)
                warm = True
            megapixels, speeds, difference = summary["width"] * summary["height"] / 1e6, {}, 0.0
            for path, net in nets.items():
                seconds, owned = torch_pass(net, inputs, tiles)
                speeds[path] = (megapixels / seconds, megapixels / (seconds + read_seconds))
                if maps is not None:
                    stitched = stitch(owned, tiles, rows, cols)[summary["map"]["classes"]]
                    difference = max(difference, float(np.abs(maps - stitched).max()))
            rounds[v].append((summary["megapixels_per_second"], speeds))
            if maps is not None:
                facts[v] = (len(tiles), megapixels, difference)
            print(f"round {r + 1}, version {v}: Fovea {summary['megapixels_per_second']:.2f} MP/s "
                  f"({summary['mapping_seconds']:.2f} s mapping); PyTorch " + ", ".join(
                      f"{path} {s[0]:.2f} MP/s" for path, s in speeds.items()) +
                  f" (+ {read_seconds:.2f} s reading)", flush=True)
    return rounds, facts


def report(args, rounds, facts, nets):
    print(f"\n`fovea slide --no-tissue-mask --no-viewer` (default tiles and --concurrency, one fovea-server with "
          f"default flags) against PyTorch {torch.__version__} (float32, fully convolutional, version 1's weights, "
          f"{torch.get_num_threads()} threads) over the same tiles. Fovea's MP/s is end to end (reading the slide, "
          f"the requests, writing the maps): conservative for Fovea. PyTorch's is compute only, tiles in memory.\n")
    paths = list(nets)
    print("| model version | tiles | slide MP | Fovea MP/s | " + " | ".join(f"PyTorch {p} MP/s" for p in paths) +
          " | PyTorch best MP/s incl. reading | Fovea / best PyTorch (range) | max abs diff vs fp32 PyTorch |")
    print("| --- " * (7 + len(paths)) + "|")
    median = statistics.median
    for v in args.versions:
        best = [max(speeds.values()) for _, speeds in rounds[v]]  # the faster path of each round
        ratios = [fovea / b[0] for (fovea, _), b in zip(rounds[v], best)]
        tiles, megapixels, difference = facts[v]
        kind = {1: "fp32", 2: "int8"}.get(v, "?")
        print(f"| {v} ({kind}) | {tiles} | {megapixels:.2f} | "
              f"{median(f for f, _ in rounds[v]):.2f} | " +
              " | ".join(f"{median(s[p][0] for _, s in rounds[v]):.2f}" for p in paths) +
              f" | {median(b[1] for b in best):.2f} | **{median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}, "
              f"{len(ratios)} rounds) | {difference:.2g} |")
    print("\nMedians over rounds; each ratio pairs a Fovea run with the PyTorch pass right after it.")
    print(f"command: {shlex.join([sys.executable, os.path.relpath(os.path.abspath(__file__), ROOT)] + sys.argv[1:])}")
    print(f"CPU: {cpu_name()}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--slide", help="map this slide instead of generating one")
    parser.add_argument("--versions", default="1,2", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", help="where the slide and outputs go (default: a temporary folder, removed)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = args.work or tempfile.mkdtemp(prefix="fovea-slide-pytorch-")
    os.makedirs(work, exist_ok=True)
    try:
        slide = args.slide
        if not slide:
            slide = os.path.join(work, "slide.tif")
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "slide", "make_slide.py"), "--width",
                            str(args.size), "--height", str(args.size), "--seed", "4", "--out", slide, "--truth",
                            os.path.join(work, "truth.geojson")], check=True, stdout=subprocess.DEVNULL)
        model = onnx.load(os.path.join(ROOT, "models", MODEL, "1", "model.onnx"))
        nodes, meta = list(model.graph.node), {p.key: p.value for p in model.metadata_props}
        weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
        mean, std = float(meta.get("fovea.input.mean", 0)), float(meta.get("fovea.input.std", 1))
        eager = fully_convolutional(nodes, weights, tuple(int(meta[f"fovea.input.{k}"])
                                                          for k in ("channels", "height", "width")))
        with torch.no_grad():  # traced on a small input; the convolutions take any size
            script = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(eager, torch.zeros(1, 1, 64, 64))))
        nets = {"eager": eager, "TorchScript": script}
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs, exist_ok=True)
        pb, pb_grpc, v1, v1_grpc = harness.generate_stubs(os.path.join(ROOT, "proto"), stubs)
        server = harness.Server(pb, pb_grpc, server_bin=os.path.join(args.build, "bin", "fovea-server"),
                                repository=os.path.join(ROOT, "models"))
        channel = grpc.insecure_channel(server.address)
        fovea = v1_grpc.InferenceStub(channel)
        try:
            dense_vs_graph, graph_vs_served = check_network(eager, nodes, weights, fovea, v1, slide, mean, std)
            print(f"28x28 crops: dense 1x1 map vs the ONNX graph's softmax, max |diff| {dense_vs_graph:.2g}; graph vs "
                  f"fovea-server Classify (version 1) {graph_vs_served:.2g}")
            if max(dense_vs_graph, graph_vs_served) > 1e-5:
                raise RuntimeError("the PyTorch network does not reproduce the model on 28x28 inputs")
            rounds, facts = measure(args, work, slide, nets, mean, std, fovea, v1, server)
        finally:
            channel.close()
            server.stop()
        report(args, rounds, facts, nets)
        if 1 in facts and facts[1][2] > FP32_TOLERANCE:
            print(f"FAILED: version 1's maps differ from PyTorch's by {facts[1][2]:.3g} (> {FP32_TOLERANCE})")
            return 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
