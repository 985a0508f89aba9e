#!/usr/bin/python3
"""Fine-tuning end to end: `fovea-train --from` the bundled model on a 3-class image folder, checked from outside.

Builds the folder from Fashion-MNIST *test* images the bundled model never trained on (pullover, coat, shirt: its
three most confused classes), 300 training and 200 test images per class, runs fovea-train with --from, and checks:
- the stated accuracy: at least --min-accuracy on the 600 test images after --epochs epochs (6 steps each);
- the backbone is bit-identical: every initializer of the source model except its classifier's is in the output
  with the same bytes, and no other initializer was added but the new classifier's [3, F] weight and [3] bias;
- the metadata: the folder's labels, the source's preprocessing;
- another runtime agrees: OpenCV DNN gives fovea-train's predictions on every test image.

Usage: finetune_check.py --fovea-train BIN --source MODEL.onnx --work DIR [--epochs 5] [--min-accuracy 0.88]
"""
import argparse
import csv
import gzip
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
CLASSES = {2: "pullover", 4: "coat", 6: "shirt"}
TRAIN_PER_CLASS, TEST_PER_CLASS = 300, 200


def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def build_folders(work):
    labels = read_idx(f"{FASHION_MNIST}/t10k-labels-idx1-ubyte.gz", 8)
    images = read_idx(f"{FASHION_MNIST}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    for label, name in CLASSES.items():
        indices = np.flatnonzero(labels == label)
        for split, chosen in (("train", indices[:TRAIN_PER_CLASS]),
                              ("test", indices[TRAIN_PER_CLASS:TRAIN_PER_CLASS + TEST_PER_CLASS])):
            folder = os.path.join(work, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in chosen:
                cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), images[i])


def initializers(path):
    return {t.name: t for t in onnx.load(path).graph.initializer}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fovea-train", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-accuracy", type=float, default=0.88)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    build_folders(args.work)
    out = os.path.join(args.work, "model")
    predictions = os.path.join(args.work, "predictions.csv")
    command = [args.fovea_train, "--from", args.source, "--image-folder", os.path.join(args.work, "train"),
               "--test-folder", os.path.join(args.work, "test"), "--output", out, "--epochs", str(args.epochs),
               "--no-progress", "--predictions", predictions]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        sys.exit(f"fovea-train failed with status {result.returncode}")
    failures = []

    rows = list(csv.DictReader(open(predictions)))
    accuracy = np.mean([r["label"] == r["predicted"] for r in rows])
    print(f"test accuracy {accuracy:.4f} on {len(rows)} images after {args.epochs} epochs")
    if len(rows) != len(CLASSES) * TEST_PER_CLASS or accuracy < args.min_accuracy:
        failures.append(f"accuracy {accuracy:.4f} on {len(rows)} images, wanted >= {args.min_accuracy}")

    source, tuned = initializers(args.source), initializers(os.path.join(out, "model.onnx"))
    source_graph = onnx.load(args.source).graph
    replaced = {i for n in source_graph.node if n.op_type == "Gemm" for i in n.input[1:]}
    kept = {name: t for name, t in source.items() if name not in replaced}
    for name, tensor in kept.items():
        if name not in tuned or tuned[name].SerializeToString() != tensor.SerializeToString():
            failures.append(f"backbone initializer {name} is missing or changed")
    added = {name: numpy_helper.to_array(t).shape for name, t in tuned.items() if name not in kept}
    print(f"{len(kept)} backbone initializers bit-identical; new: {added}")
    if sorted(added.values()) != sorted([(len(CLASSES), 128), (len(CLASSES),)]):
        failures.append(f"new initializers {added}, wanted a [3, 128] weight and a [3] bias")

    model = onnx.load(os.path.join(out, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    metadata = {p.key: p.value for p in model.metadata_props}
    if metadata.get("fovea.labels", "").split() != sorted(CLASSES.values()):
        failures.append(f"labels {metadata.get('fovea.labels')!r}")
    if metadata.get("fovea.train.source") != args.source:
        failures.append(f"fovea.train.source {metadata.get('fovea.train.source')!r}")

    net = cv2.dnn.readNetFromONNX(os.path.join(out, "model.onnx"))
    disagree = 0
    for row_index, name in enumerate(sorted(os.listdir(os.path.join(args.work, "test")))):
        folder = os.path.join(args.work, "test", name)
        files = sorted(os.listdir(folder))
        batch = np.stack([cv2.imread(os.path.join(folder, f), cv2.IMREAD_GRAYSCALE) for f in files])
        net.setInput(batch[:, None].astype(np.float32) / 255.0)
        predicted = net.forward().argmax(1)
        ours = [int(r["predicted"]) for r in rows[row_index * TEST_PER_CLASS:(row_index + 1) * TEST_PER_CLASS]]
        disagree += int(np.sum(predicted != np.array(ours)))
    print(f"OpenCV DNN disagrees with fovea-train on {disagree} of {len(rows)} test images")
    if disagree:
        failures.append(f"OpenCV DNN disagrees on {disagree} images")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print("ok")


if __name__ == "__main__":
    main()
