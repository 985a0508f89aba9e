#!/usr/bin/python3
"""The overlay examples of docs/localization.md from two zoo-like models a user could bring, trained here on
Fashion-MNIST scenes with PyTorch and served by the real fovea-server; the pictures are what `fovea localize` writes.

1. Grad-CAM: torchvision's ResNet-18, unchanged (10 classes), trained on 112x112 canvases each holding one training
   item at a random place and scale. The example is a test scene with two items of different classes, explained for
   each class at `layer3`'s output (7x7 cells; `layer4` is 4x4 at this input size) with `--method gradcam --layer`.
2. Segmentation: a small U-Net (three levels, transposed-convolution upsampling, concatenated skips; 11 classes:
   background + 10) trained on 128x128 canvases with one to four training items, per-pixel labels. The example is a
   test scene of four items localized with default flags (auto picks SEGMENTATION for a [N, C, H, W] output).

Training is short (minutes on two cores); the printed accuracy and pixel accuracy say how good the models got. Test
items (t10k) make the examples, training items (train) the models.

usage: bench/localize/doc_examples.py --server-bin build/bin/fovea-server --cli build/bin/fovea [--out docs]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_example_scene import read_idx  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CLASSIFIER_SIDE = 112
SEGMENTER_SIDE = 128
SEED = 7
STARTUP_SECONDS = 120


def paste(canvas, mask, item, label, rng, scale_range, taken):
    """Pastes `item` at a random scale and place that does not overlap `taken` boxes; returns its box or None."""
    side = int(round(28 * rng.uniform(*scale_range)))
    resized = cv2.resize(item, (side, side), interpolation=cv2.INTER_LINEAR)
    for _ in range(50):
        x, y = rng.integers(0, canvas.shape[1] - side + 1), rng.integers(0, canvas.shape[0] - side + 1)
        if all(x + side <= bx or bx + bs <= x or y + side <= by or by + bs <= y for bx, by, bs in taken):
            region = canvas[y:y + side, x:x + side]
            np.maximum(region, resized, out=region)
            if mask is not None:
                mask[y:y + side, x:x + side][resized > 40] = label + 1
            taken.append((x, y, side))
            return x, y, side
    return None


def classifier_batch(images, labels, rng, count):
    x = np.zeros((count, CLASSIFIER_SIDE, CLASSIFIER_SIDE), np.uint8)
    picks = rng.integers(0, len(images), count)
    for i, pick in enumerate(picks):
        paste(x[i], None, images[pick], labels[pick], rng, (1.0, 2.0), [])
    tensor = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1).expand(-1, 3, -1, -1)
    return tensor.contiguous(), torch.from_numpy(labels[picks].astype(np.int64))


def segmenter_batch(images, labels, rng, count):
    x = np.zeros((count, SEGMENTER_SIDE, SEGMENTER_SIDE), np.uint8)
    y = np.zeros((count, SEGMENTER_SIDE, SEGMENTER_SIDE), np.int64)
    for i in range(count):
        taken = []
        for pick in rng.integers(0, len(images), rng.integers(1, 5)):
            paste(x[i], y[i], images[pick], labels[pick], rng, (1.0, 1.8), taken)
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y)


class UNet(torch.nn.Module):
    """Three levels down (16, 32, 64 channels), transposed convolutions up, skips concatenated, 1x1 to the classes."""

    def __init__(self, classes=11):
        super().__init__()

        def block(cin, cout):
            return torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout),
                                       torch.nn.ReLU(), torch.nn.Conv2d(cout, cout, 3, padding=1),
                                       torch.nn.BatchNorm2d(cout), torch.nn.ReLU())
        self.down1, self.down2, self.bottom = block(1, 16), block(16, 32), block(32, 64)
        self.up2, self.dec2 = torch.nn.ConvTranspose2d(64, 32, 2, stride=2), block(64, 32)
        self.up1, self.dec1 = torch.nn.ConvTranspose2d(32, 16, 2, stride=2), block(32, 16)
        self.classify = torch.nn.Conv2d(16, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        bottom = self.bottom(F.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(bottom), d2], dim=1))
        return self.classify(self.dec1(torch.cat([self.up1(u2), d1], dim=1)))


def train(model, make_batch, steps, batch, loss_fn, name):
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    model.train()
    started = time.monotonic()
    for step in range(steps):
        x, y = make_batch(batch)
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"{name}: step {step + 1}/{steps} loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)",
                  flush=True)
    model.eval()


def export(model, side, channels, path, metadata):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, channels, side, side), path, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    onnx_model = onnx.load(path)
    for key, value in metadata.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(onnx_model, path)


def scene(path, side, items, test_images, test_labels):
    """A test scene: (test index, x, y, scale) items on black, saved as PNG; returns the labels."""
    canvas = np.zeros((side, side), np.uint8)
    for index, x, y, scale in items:
        item = cv2.resize(test_images[index], (int(28 * scale), int(28 * scale)), interpolation=cv2.INTER_LINEAR)
        region = canvas[y:y + item.shape[0], x:x + item.shape[1]]
        np.maximum(region, item, out=region)
    cv2.imwrite(path, canvas)
    return [int(test_labels[index]) for index, *_ in items]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(server_bin, repository):
    """Starts fovea-server on the repository; returns (process, gRPC address) once the CLI's health check passes."""
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([server_bin, "--address", address, "--model-repository", repository, "--metrics-port",
                               "0", "--http-port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, address


def localize(cli, address, model, image, out, flags):
    deadline = time.time() + STARTUP_SECONDS
    while True:
        run = subprocess.run([cli, "localize", "--server", address, "--model", model, "--out", out, *flags, image],
                             capture_output=True, text=True)
        if run.returncode == 0 or time.time() > deadline:
            break
        time.sleep(1)
    print(run.stdout.strip() or run.stderr.strip(), flush=True)
    if run.returncode != 0:
        sys.exit(f"fovea localize failed: {run.stderr.strip()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--classifier-steps", type=int, default=400)
    parser.add_argument("--segmenter-steps", type=int, default=500)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    images, labels = read_idx(f"{DATA}/train-images-idx3-ubyte.gz"), read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    test_images, test_labels = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz"), read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    work = tempfile.mkdtemp(prefix="fovea-doc-examples-")
    server = None
    try:
        resnet = torchvision.models.resnet18(weights=None, num_classes=10)
        train(resnet, lambda n: classifier_batch(images, labels, rng, n), args.classifier_steps, 32,
              F.cross_entropy, "resnet18")
        with torch.no_grad():
            x, y = classifier_batch(test_images, test_labels, np.random.default_rng(1), 500)
            accuracy = float((resnet(x).argmax(1) == y).float().mean())
        print(f"resnet18: top-1 {accuracy:.3f} on 500 test canvases", flush=True)
        export(resnet, CLASSIFIER_SIDE, 3, os.path.join(work, "repo", "resnet18", "1", "model.onnx"),
               {"fovea.labels": "\n".join(LABELS), "fovea.input.mean": "0", "fovea.input.std": "1"})

        unet = UNet()
        train(unet, lambda n: segmenter_batch(images, labels, rng, n), args.segmenter_steps, 16,
              F.cross_entropy, "unet")
        with torch.no_grad():
            x, y = segmenter_batch(test_images, test_labels, np.random.default_rng(2), 100)
            predicted = unet(x).argmax(1)
            items = y > 0
            pixel_accuracy = float((predicted[items] == y[items]).float().mean())
        print(f"unet: {pixel_accuracy:.3f} of item pixels get their item's class on 100 test scenes", flush=True)
        export(unet, SEGMENTER_SIDE, 1, os.path.join(work, "repo", "unet", "1", "model.onnx"),
               {"fovea.labels": "\n".join(["background"] + LABELS), "fovea.background_class": "0",
                "fovea.input.mean": "0", "fovea.input.std": "1"})

        two = os.path.join(work, "two-items.png")
        first, second = scene(two, CLASSIFIER_SIDE, [(2, 6, 10, 1.6), (1, 58, 50, 1.8)], test_images, test_labels)
        four = os.path.join(work, "four-items.png")
        scene(four, SEGMENTER_SIDE, [(0, 4, 6, 1.5), (5, 70, 10, 1.4), (9, 12, 74, 1.6), (17, 78, 78, 1.5)],
              test_images, test_labels)
        server, address = serve(args.server_bin, os.path.join(work, "repo"))
        maps = os.path.join(work, "maps")
        localize(args.cli, address, "resnet18", two, maps,
                 ["--method", "gradcam", "--layer", "/layer3/layer3.1/relu_1/Relu_output_0", "--classes",
                  f"{first},{second}"])
        localize(args.cli, address, "unet", four, maps, [])
        written = sorted(f for f in os.listdir(maps) if f.endswith(".png") and not f.endswith(".map.png"))
        print("overlays:", ", ".join(written))
        os.makedirs(args.out, exist_ok=True)
        for prefix, target in (("two-items", "localization-gradcam-resnet18.png"),
                               ("four-items", "localization-segmentation-unet.png")):
            overlays = [cv2.imread(os.path.join(maps, f)) for f in written if f.startswith(prefix)]
            cv2.imwrite(os.path.join(args.out, target), cv2.hconcat(overlays))
            print(f"wrote {os.path.join(args.out, target)} ({len(overlays)} overlays side by side)")
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
