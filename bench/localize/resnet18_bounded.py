#!/usr/bin/python3
"""Issue 21's bounded-answer case, timed through the real server and CLI: `fovea localize` with default flags on a
torchvision ResNet-18 (1,000 classes, seeded random weights) over a 448x448 image, and the old default (every class's
map and overlay) which must now be refused at once, naming the limit.

Usage: resnet18_bounded.py --server-bin build/bin/fovea-server --cli-bin build/bin/fovea [--rounds 5]
Prints one line per timing; the CPU is `lscpu`'s model name.
"""
import argparse
import os
import socket
import subprocess
import tempfile
import time

import cv2
import numpy as np
import onnx
import torch
import torchvision

SEED = 2024
OPSET = 13
INPUT_SIZE = 224
IMAGE_SIZE = 448
CLASSES = 1000
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
STARTUP_SECONDS = 120


def export_resnet18(path):
    torch.manual_seed(SEED)
    model = torchvision.models.resnet18(num_classes=CLASSES).eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(model, example, path, opset_version=OPSET, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    proto = onnx.load(path)
    onnx.helper.set_model_props(proto, {
        "fovea.input.channels": "3", "fovea.input.height": str(INPUT_SIZE), "fovea.input.width": str(INPUT_SIZE),
        "fovea.input.mean": ",".join(map(str, MEAN)), "fovea.input.std": ",".join(map(str, STD))})
    onnx.save(proto, path)


def scene(path):
    """Smooth colour blobs on a grey canvas: an image with structure, so overlays do not compress to nothing."""
    rng = np.random.RandomState(SEED)
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 128, np.uint8)
    for _ in range(12):
        centre = tuple(int(v) for v in rng.randint(0, IMAGE_SIZE, 2))
        cv2.circle(image, centre, int(rng.randint(20, 80)), tuple(int(v) for v in rng.randint(0, 256, 3)), -1)
    cv2.imwrite(path, image)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(cli, address, args):
    start = time.perf_counter()
    done = subprocess.run([cli, "localize", "--server", address, *args], capture_output=True, text=True)
    return time.perf_counter() - start, done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--cli-bin", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="resnet18-bounded-")
    export_resnet18(f"{work}/models/resnet18/1/model.onnx")
    image = f"{work}/scene.png"
    scene(image)
    address = f"127.0.0.1:{free_port()}"
    log = open(f"{work}/server.log", "w")
    server = subprocess.Popen([args.server_bin, "--address", address, "--model-repository", f"{work}/models",
                               "--metrics-port", "0"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + STARTUP_SECONDS
        while subprocess.run([args.cli_bin, "health", "--server", address], capture_output=True).returncode != 0:
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"fovea-server did not start; see {work}/server.log")
            time.sleep(0.5)
        every_class = ",".join(str(c) for c in range(CLASSES))
        cases = [("default flags", ["--out", f"{work}/out", image]),
                 ("every class, overlays (refused)", ["--out", f"{work}/all", "--classes", every_class, "--method",
                                                      "dense", image])]
        for name, cli_args in cases:
            seconds = []
            for _ in range(args.rounds):
                elapsed, done = run_cli(args.cli_bin, address, cli_args)
                seconds.append(elapsed)
            print(f"{name}: median {np.median(seconds) * 1000:.0f} ms, min {min(seconds) * 1000:.0f} ms, "
                  f"max {max(seconds) * 1000:.0f} ms over {args.rounds} runs (CLI process start to exit)")
            print("  " + done.stdout.strip().replace("\n", "\n  "))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
