#!/usr/bin/python3
"""Checks that a fovea-train model loads in OpenCV's DNN module and predicts the same top-1 class as fovea-train.

fovea-train --predictions writes the trainer's own test predictions; this script reads the same Fashion-MNIST test
images (the first N of each class when fovea-train ran with --test-limit-per-class N), normalizes them with the
model's fovea.input.mean/std metadata, runs cv2.dnn and compares the argmax for the first --count images.

Usage: opencv_check.py --model model.onnx --predictions predictions.csv [--test-limit-per-class N] [--count 1000]
"""
import argparse
import csv
import gzip
import sys

import cv2
import numpy as np
import onnx

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
CLASSES = 10


def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def test_images(limit_per_class):
    labels = read_idx(f"{FASHION_MNIST}/t10k-labels-idx1-ubyte.gz", 8)
    images = read_idx(f"{FASHION_MNIST}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    if limit_per_class > 0:
        taken = np.zeros(CLASSES, int)
        keep = []
        for i, label in enumerate(labels):
            if taken[label] < limit_per_class:
                taken[label] += 1
                keep.append(i)
        images, labels = images[keep], labels[keep]
    return images, labels


def normalization(model_path):
    props = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    mean = float(props.get("fovea.input.mean", "0").split(",")[0])
    std = float(props.get("fovea.input.std", "1").split(",")[0])
    return mean, std


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--test-limit-per-class", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    images, labels = test_images(args.test_limit_per_class)
    with open(args.predictions, newline="") as f:
        rows = list(csv.DictReader(f))
    count = min(args.count, len(rows))
    if count < args.count:
        sys.exit(f"only {len(rows)} predictions in {args.predictions}, need {args.count}")
    for row in rows[:count]:
        if int(row["label"]) != int(labels[int(row["test_index"])]):
            sys.exit(f"{args.predictions} was written for other test images (label mismatch at {row['test_index']})")

    mean, std = normalization(args.model)
    net = cv2.dnn.readNetFromONNX(args.model)
    batch = ((images[:count].astype(np.float32) / 255.0 - mean) / std)[:, None, :, :]
    net.setInput(batch)
    scores = net.forward()
    opencv_top1 = scores.argmax(axis=1)
    fovea_top1 = np.array([int(r["predicted"]) for r in rows[:count]])
    disagreements = np.flatnonzero(opencv_top1 != fovea_top1)
    accuracy = float((opencv_top1 == labels[:count]).mean())
    print(f"OpenCV {cv2.__version__}: {count} images, top-1 agrees with fovea-train on {count - len(disagreements)}, "
          f"OpenCV accuracy {accuracy:.4f}")
    if len(disagreements):
        sys.exit(f"top-1 differs on images {disagreements[:20].tolist()}")


if __name__ == "__main__":
    main()
