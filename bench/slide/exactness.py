#!/usr/bin/python3
"""Issue 24's exactness and tiling-overhead measurement: a generated slide (default 4096 x 4096) mapped by `fovea slide`
at two tile sizes, against one DENSE Localize over the whole image, for the bundled model and a zoo model.

For each model: the reference map is one Localize (DENSE, float maps) of the slide's level-0 pixels, timed; then
`fovea slide --no-tissue-mask` at each --tile, timed, and the max |stitched - reference| over every cell and mapped
class. The server runs with --max-dense-pixels large enough for the whole image (the reference needs it). The tiling
overhead is (slide's seconds) / (reference's seconds) - 1, both through the same server: it counts the context the
tiles re-read and the per-request cost, and also the client's reading and writing.

usage: /usr/bin/python3 bench/slide/exactness.py --build build [--size 4096] [--tiles 1024,600] [--rounds 3]
       [--zoo-onnx build/tests/zoo/cache/mobilenet_v2_op13.onnx] [--zoo-classes 5]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import grpc
import numpy as np
import tifffile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

RPC_TIMEOUT_SECONDS = 1800


def reference_maps(fovea, v1, model, pixels, classes):
    """[classes, rows, cols] of one DENSE Localize over `pixels`, and its seconds."""
    request = v1.LocalizeRequest(model_name=model, method=v1.LOCALIZATION_METHOD_DENSE, class_indices=classes,
                                 map_format=v1.HEATMAP_FORMAT_FLOAT, render_overlays=False)
    request.image.tensor.dtype = v1.DATA_TYPE_UINT8
    request.image.tensor.shape.extend(pixels.shape)
    request.image.tensor.data = pixels.tobytes()
    start = time.perf_counter()
    answer = fovea.Localize(request, timeout=RPC_TIMEOUT_SECONDS)
    seconds = time.perf_counter() - start
    maps = np.stack([np.array(h.values, dtype=np.float32).reshape(h.height, h.width) for h in answer.heatmaps])
    return maps, seconds


def slide_maps(args, server, model, classes, tile, slide, out):
    """The stitched maps of `fovea slide` at `tile`, its seconds and summary."""
    command = [os.path.join(args.build, "bin", "fovea"), "slide", "--server", server.address, "--model", model,
               "--out", out, "--no-tissue-mask", "--tile", str(tile), "--classes", ",".join(map(str, classes)),
               "--concurrency", "2", slide]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    name = os.path.splitext(os.path.basename(slide))[0]
    with open(os.path.join(out, name + ".json")) as f:
        summary = json.load(f)
    rows, cols = summary["map"]["rows"], summary["map"]["cols"]
    maps = np.stack([np.fromfile(os.path.join(out, name + ".maps", f"{slot}.f32"), dtype=np.float32).reshape(rows, cols)
                     for slot in range(len(classes))])
    return maps, seconds, summary


def repository(work, zoo_onnx):
    repo = os.path.join(work, "repository")
    os.makedirs(os.path.join(repo, "fashion-mnist", "2"))
    shutil.copy(os.path.join(ROOT, "models", "fashion-mnist", "2", "model.onnx"),
                os.path.join(repo, "fashion-mnist", "2", "model.onnx"))
    models = {"fashion-mnist": list(range(10))}
    if zoo_onnx:
        name = os.path.basename(zoo_onnx).split("_op")[0]
        os.makedirs(os.path.join(repo, name, "1"))
        shutil.copy(zoo_onnx, os.path.join(repo, name, "1", "model.onnx"))
        models[name] = None
    return repo, models


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tiles", default="1024,600")
    parser.add_argument("--zoo-onnx", default=os.path.join(ROOT, "build", "tests", "zoo", "cache", "mobilenet_v2_op13.onnx"))
    parser.add_argument("--zoo-classes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fovea-slide-exactness-")
    try:
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs)
        pb, pb_grpc, v1, v1_grpc = harness.generate_stubs(os.path.join(ROOT, "proto"), stubs)
        slide = os.path.join(work, "slide.tif")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "slide", "make_slide.py"), "--width",
                        str(args.size), "--height", str(args.size), "--seed", "4", "--out", slide, "--truth",
                        os.path.join(work, "truth.geojson")], check=True, stdout=subprocess.DEVNULL)
        pixels = tifffile.imread(slide, key=0)
        repo, models = repository(work, args.zoo_onnx if os.path.exists(args.zoo_onnx) else None)
        server = harness.Server(pb, pb_grpc, server_bin=os.path.join(args.build, "bin", "fovea-server"),
                                repository=repo,
                                extra_args=("--max-dense-pixels", str(args.size * args.size), "--max-message-bytes",
                                            "1GiB", "--max-image-bytes", "1GiB"))
        # A whole-image answer is tens of MB: past gRPC Python's 4 MB default.
        big = [("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30)]
        channel = grpc.insecure_channel(server.address, options=big)
        fovea = v1_grpc.InferenceStub(channel)
        rows = []
        try:
            for model, classes in models.items():
                classes = classes or list(range(args.zoo_classes))
                geometry = fovea.GetModel(v1.GetModelRequest(model_name=model), timeout=60).dense
                tiles = list(map(int, args.tiles.split(",")))
                # Per tile size: the largest difference, and each round's (one pass s, tiled s, tile count).
                differences, timings = {t: 0.0 for t in tiles}, {t: [] for t in tiles}
                for _ in range(args.rounds):
                    # One pass and the tiled runs alternate within a round, so a slow spell of the machine hits
                    # both sides of a ratio.
                    reference, reference_seconds = reference_maps(fovea, v1, model, pixels, classes)
                    for tile in tiles:
                        out = os.path.join(work, f"{model}-{tile}")
                        maps, seconds, summary = slide_maps(args, server, model, classes, tile, slide, out)
                        difference = float(np.abs(maps - reference).max()) if maps.shape == reference.shape else None
                        differences[tile] = None if difference is None or differences[tile] is None else max(
                            differences[tile], difference)
                        timings[tile].append((reference_seconds, seconds, summary["tiles"]["total"]))
                        shutil.rmtree(out)
                for tile in tiles:
                    rows.append((model, f"{geometry.window_width}/{geometry.natural_stride}/"
                                 f"{geometry.context_left}", tile, timings[tile][0][2],
                                 "x".join(map(str, reference.shape[1:])), differences[tile], timings[tile]))
        finally:
            channel.close()
            server.stop()
        print(f"slide {args.size}x{args.size}, `fovea slide --no-tissue-mask --concurrency 2` against one DENSE "
              f"Localize of the whole image (server --max-dense-pixels {args.size * args.size})\n")
        print("| model | window/stride/context | --tile | tiles | map | max abs difference | one pass s | "
              "tiled s | tiled / one pass (range) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for model, geometry, tile, tiles, shape, difference, timing in rows:
            ratios = [tiled / one_pass for one_pass, tiled, _ in timing]
            one_pass = statistics.median(t[0] for t in timing)
            tiled = statistics.median(t[1] for t in timing)
            print(f"| {model} | {geometry} | {tile} | {tiles} | {shape} | {difference:.2g} | {one_pass:.2f} | "
                  f"{tiled:.2f} | {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) |")
        print(f"\nMedians over {args.rounds} rounds; each round runs the one pass, then the tiled runs.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
