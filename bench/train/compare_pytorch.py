#!/usr/bin/python3
"""Epoch time of fovea-train against PyTorch training the same network on the same data.

Both sides train the same architecture (conv3x3 + BatchNorm + ReLU blocks, residual basic blocks, 2x2 max pooling,
global average pooling, linear classifier) with the same batch size, augmentation (random crop from a 2-pixel zero padding, horizontal flip),
optimizer (SGD, Nesterov momentum 0.9, weight decay 5e-4) and thread count, on the same Fashion-MNIST subset. Each
trains two epochs; the second epoch's time is compared (the first includes one-time set-up on both sides). With
--rounds R the two trainers alternate R times and the median of the per-round ratios is reported with its range.

Usage: /usr/bin/python3 bench/train/compare_pytorch.py --fovea-train build/bin/fovea-train [--images 12000]
       [--threads 2] [--arch c32,c32,p,c64,c64,p,c128,c128,gap] [--batch-size 128] [--rounds 1]
"""
import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
CLASSES = 10
CROP_PADDING = 2


def load_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)


def load_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=8)


def balanced_subset(labels, per_class):
    """Indices of the first `per_class` images of each class, in file order (what --limit-per-class keeps)."""
    taken = np.zeros(CLASSES, int)
    keep = []
    for i, label in enumerate(labels):
        if taken[label] < per_class:
            taken[label] += 1
            keep.append(i)
    return np.array(keep)


class BasicBlock(nn.Module):
    """fovea-train's rN[sS] token: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)), as torchvision's BasicBlock."""

    def __init__(self, channels, width, stride):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        self.shortcut = nn.Identity()
        if stride != 1 or channels != width:
            self.shortcut = nn.Sequential(nn.Conv2d(channels, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        return torch.relu(self.main(x) + self.shortcut(x))


def build_torch_model(spec):
    """The network fovea-train builds for `spec` (tokens cN, rN[sS], p, gap), followed by the linear classifier."""
    layers, channels = [], 1
    for token in spec.split(","):
        if token == "gap":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif token == "p":
            layers.append(nn.MaxPool2d(2))
        elif re.fullmatch(r"c\d+", token):
            width = int(token[1:])
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        elif match := re.fullmatch(r"r(\d+)(?:s(\d+))?", token):
            width, stride = int(match[1]), int(match[2] or 1)
            layers.append(BasicBlock(channels, width, stride))
            channels = width
        else:
            sys.exit(f"compare_pytorch.py supports only cN, rN[sS], p and gap tokens, not {token!r}")
    return nn.Sequential(*layers, nn.Linear(channels, CLASSES))


def augment(batch, generator):
    """Random crop from the zero-padded batch and random horizontal flip, vectorized over the batch."""
    n, _, h, w = batch.shape
    padded = nn.functional.pad(batch, (CROP_PADDING,) * 4)
    dy = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    out = padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def pytorch_epoch_seconds(images, labels, spec, batch_size, epochs):
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    model = build_torch_model(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    times = []
    model.train()
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x_all), generator=generator)
        for b in range(len(x_all) // batch_size):
            idx = order[b * batch_size:(b + 1) * batch_size]
            x = augment(x_all[idx], generator)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y_all[idx])
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def fovea_epoch_seconds(binary, per_class, spec, batch_size, threads, epochs):
    with tempfile.TemporaryDirectory() as out:
        command = [binary, "--output", out, "--arch", spec, "--epochs", str(epochs), "--batch-size", str(batch_size),
                   "--threads", str(threads), "--limit-per-class", str(per_class), "--validation", "0",
                   "--test-limit-per-class", "1", "--lr", "0.05", "--no-progress"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"fovea-train failed:\n{result.stderr}")
    images_per_second = [float(v) for v in re.findall(r"epoch \d+/\d+ - [\d:]+ \((\d+) img/s\)", result.stderr)]
    steps_images = (per_class * CLASSES // batch_size) * batch_size
    return [steps_images / ips for ips in images_per_second], " ".join(command)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fovea-train", default="build/bin/fovea-train")
    parser.add_argument("--images", type=int, default=12000, help="training images (balanced over the classes)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--arch", default="c32,c32,p,c64,c64,p,c128,c128,gap")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two trainers this many times")
    args = parser.parse_args()
    epochs = 2
    per_class = args.images // CLASSES

    torch.set_num_threads(args.threads)
    all_labels = load_idx_labels(f"{FASHION_MNIST}/train-labels-idx1-ubyte.gz")
    keep = balanced_subset(all_labels, per_class)
    images = load_idx_images(f"{FASHION_MNIST}/train-images-idx3-ubyte.gz")[keep]

    print(f"architecture {args.arch}, {len(keep)} images, batch {args.batch_size}, {args.threads} threads")
    ratios = []
    for round_index in range(args.rounds):
        fovea, command = fovea_epoch_seconds(args.fovea_train, per_class, args.arch, args.batch_size, args.threads,
                                             epochs)
        torch_times = pytorch_epoch_seconds(images, all_labels[keep], args.arch, args.batch_size, epochs)
        ratios.append(fovea[-1] / torch_times[-1])
        print(f"round {round_index + 1}: fovea-train epoch times (s): {', '.join(f'{t:.2f}' for t in fovea)}; "
              f"PyTorch {torch.__version__}: {', '.join(f'{t:.2f}' for t in torch_times)}; "
              f"ratio {ratios[-1]:.2f}", flush=True)
    print(f"fovea-train command: {command}")
    print(f"second-epoch ratio fovea/PyTorch: median {np.median(ratios):.2f} (range {min(ratios):.2f}-"
          f"{max(ratios):.2f} over {args.rounds} rounds; target <= 0.70)")


if __name__ == "__main__":
    main()
