#!/usr/bin/python3
"""Localize SEGMENTATION against PyTorch: torchvision's LR-ASPP MobileNetV3-Large (random weights, 21 classes),
exported by torch.onnx, served by the real fovea-server; the maps its REST Localize route answers must equal the
softmax over the classes of PyTorch's output (which LR-ASPP already upsamples to the input size) within 1e-5 absolute,
at every pixel, for the classes asked for.

The image is the model's input size, so no resize happens on either side: what is compared is the engine's model
output, the softmax and the map plumbing (bilinear reading at one cell per pixel must be the identity)."""
import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

import numpy as np
import onnx
import torch
import torchvision

from zoo import FirstOutput  # noqa: E402  (tests/zoo/zoo.py, beside this file)

SIDE = 64
CLASSES = (0, 7, 15, 20)
MAX_ABS_DIFF = 1e-5
SEED = 1234
STARTUP_SECONDS = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_rgb(pixels):
    """An 8-bit RGB PNG of `pixels` ([h, w, 3] uint8), every row unfiltered."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def export(path):
    torch.manual_seed(SEED)
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                      num_classes=21)
    model = FirstOutput(model).eval()
    torch.onnx.export(model, torch.zeros(1, 3, SIDE, SIDE), path, opset_version=13, input_names=["input"],
                      output_names=["out"], dynamic_axes={"input": {0: "N"}, "out": {0: "N"}})
    # Pixels as they are (x / 255): the same input PyTorch gets below.
    onnx_model = onnx.load(path)
    for key, value in {"fovea.input.mean": "0", "fovea.input.std": "1"}.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(onnx_model, path)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server-bin", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fovea-segmentation-")
    server = None
    try:
        os.makedirs(os.path.join(work, "repo", "lraspp", "1"))
        model = export(os.path.join(work, "repo", "lraspp", "1", "model.onnx"))
        pixels = np.random.RandomState(SEED).randint(0, 256, (SIDE, SIDE, 3)).astype(np.uint8)
        with torch.no_grad():
            x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
            expected = torch.softmax(model(x), dim=1)[0].numpy()

        http_port = free_port()
        server = subprocess.Popen([args.server_bin, "--address", f"127.0.0.1:{free_port()}", "--model-repository",
                                   os.path.join(work, "repo"), "--metrics-port", "0", "--http-port", str(http_port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.time() + STARTUP_SECONDS
        while True:
            try:
                if urllib.request.urlopen(base + "/v2/health/ready", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                sys.exit("fovea-server did not become ready:\n" + server.stderr.read().decode(errors="replace"))
            time.sleep(0.5)

        query = f"method=segmentation&classes={','.join(map(str, CLASSES))}&maps=float&overlays=false"
        request = urllib.request.Request(f"{base}/v2/models/lraspp/localize?{query}", data=png_rgb(pixels),
                                         headers={"Content-Type": "image/png"}, method="POST")
        answer = json.load(urllib.request.urlopen(request, timeout=120))
        if answer["method"] != "segmentation":
            sys.exit(f"method {answer['method']!r}, want 'segmentation'")
        worst = 0.0
        for heatmap, class_index in zip(answer["heatmaps"], CLASSES, strict=True):
            if heatmap["class_index"] != class_index or (heatmap["height"], heatmap["width"]) != (SIDE, SIDE):
                sys.exit(f"heatmap {heatmap['class_index']} {heatmap['height']}x{heatmap['width']}, want "
                         f"{class_index} {SIDE}x{SIDE}")
            got = np.array(heatmap["values"], np.float32).reshape(SIDE, SIDE)
            diff = float(np.abs(got - expected[class_index]).max())
            print(f"class {class_index}: max |fovea - torch| = {diff:.2e}")
            worst = max(worst, diff)
        print(f"lraspp_mobilenet_v3_large segmentation maps: max abs diff {worst:.2e} (limit {MAX_ABS_DIFF:g})")
        return 0 if worst <= MAX_ABS_DIFF else 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
