#!/usr/bin/python3
"""Pastes Fashion-MNIST test images on a black canvas and writes the scene as a PNG (for examples and benchmarks).

Usage: make_example_scene.py OUT.png --size WxH --item INDEX@X,Y [--item ...] [--data DIR]
Each --item pastes test image INDEX (0-based, from t10k) with its top-left corner at pixel (X, Y). The labels of the
pasted items are printed as JSON on stdout: [{"index", "label", "x", "y", "width", "height"}].
"""
import argparse
import gzip
import json

import cv2
import numpy as np

ITEM_SIZE = 28


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--size", default="96x96")
    parser.add_argument("--item", action="append", default=[], help="INDEX@X,Y")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    images = read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz")
    labels = read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz")
    canvas = np.zeros((height, width), dtype=np.uint8)
    placed = []
    for item in args.item:
        index, position = item.split("@")
        x, y = (int(v) for v in position.split(","))
        patch = images[int(index)]
        region = canvas[y:y + ITEM_SIZE, x:x + ITEM_SIZE]
        np.maximum(region, patch, out=region)
        placed.append({"index": int(index), "label": int(labels[int(index)]), "x": x, "y": y,
                       "width": ITEM_SIZE, "height": ITEM_SIZE})
    cv2.imwrite(args.out, canvas)
    print(json.dumps(placed))


if __name__ == "__main__":
    main()
