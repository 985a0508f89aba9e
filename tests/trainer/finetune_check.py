#!/usr/bin/python3
"""Fine-tuning end to end: `fovea-train --from` the bundled model on a 3-class image folder, checked from outside.

Builds the folder from Fashion-MNIST *test* images the bundled model never trained on (pullover, coat, shirt: its
three most confused classes), --train-per-class training and --test-per-class test images per class, runs
fovea-train with --from, and checks:
- the stated accuracy: at least --min-accuracy on the test images after --epochs epochs;
- the backbone is bit-identical: every initializer of the source model except its final layer's is in the output
  with the same bytes, and no other initializer was added but the new layer's [3, F] weight and [3] bias; with
  --unfreeze-epochs N (every layer trained N more epochs), every backbone weight is there with its shape instead, and
  the convolutions' weights have moved;
- the metadata: the folder's labels, the source named;
- with --opencv, another runtime agrees: OpenCV DNN gives fovea-train's predictions on every test image (for 28x28
  gray models, whose input needs no resizing that two libraries would do differently).

Usage: finetune_check.py --fovea-train BIN --source MODEL.onnx --work DIR [--epochs 5] [--min-accuracy 0.88]
       [--train-per-class 300] [--test-per-class 200] [--opencv] [--unfreeze-epochs N]
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


def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def build_folders(work, train_per_class, test_per_class):
    labels = read_idx(f"{FASHION_MNIST}/t10k-labels-idx1-ubyte.gz", 8)
    images = read_idx(f"{FASHION_MNIST}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    for label, name in CLASSES.items():
        indices = np.flatnonzero(labels == label)
        for split, chosen in (("train", indices[:train_per_class]),
                              ("test", indices[train_per_class:train_per_class + test_per_class])):
            folder = os.path.join(work, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in chosen:
                cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), images[i])


def initializers(path):
    return {t.name: t for t in onnx.load(path).graph.initializer}


def final_layer(graph):
    """The weight and bias names of the fully connected layer computing the class scores, and its feature count."""
    constants = {t.name: t for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    node = producers[graph.output[0].name]
    if node.op_type == "Softmax":
        node = producers[node.input[0]]
    if node.op_type == "Gemm":
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        weight = constants[node.input[1]]
        return set(node.input[1:]), weight.dims[1] if trans_b else weight.dims[0]
    assert node.op_type == "Add", node.op_type
    bias = next(i for i in node.input if i in constants)
    matmul = producers[next(i for i in node.input if i not in constants)]
    return {bias, matmul.input[1]}, constants[matmul.input[1]].dims[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fovea-train", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-accuracy", type=float, default=0.88)
    parser.add_argument("--train-per-class", type=int, default=300)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--unfreeze-epochs", type=int, default=0)
    parser.add_argument("--opencv", action="store_true", help="also compare with OpenCV DNN (28x28 gray models)")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    build_folders(args.work, args.train_per_class, args.test_per_class)
    out = os.path.join(args.work, "model")
    predictions = os.path.join(args.work, "predictions.csv")
    command = [args.fovea_train, "--from", args.source, "--image-folder", os.path.join(args.work, "train"),
               "--test-folder", os.path.join(args.work, "test"), "--output", out, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--no-progress", "--predictions", predictions,
               "--unfreeze-epochs", str(args.unfreeze_epochs)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        sys.exit(f"fovea-train failed with status {result.returncode}")
    failures = []

    rows = list(csv.DictReader(open(predictions)))
    accuracy = np.mean([r["label"] == r["predicted"] for r in rows])
    print(f"test accuracy {accuracy:.4f} on {len(rows)} images after {args.epochs} epochs"
          + (f" and {args.unfreeze_epochs} unfrozen" if args.unfreeze_epochs else ""))
    if len(rows) != len(CLASSES) * args.test_per_class or accuracy < args.min_accuracy:
        failures.append(f"accuracy {accuracy:.4f} on {len(rows)} images, wanted >= {args.min_accuracy}")

    source, tuned = initializers(args.source), initializers(os.path.join(out, "model.onnx"))
    replaced, features = final_layer(onnx.load(args.source).graph)
    kept = {name: t for name, t in source.items() if name not in replaced}
    if args.unfreeze_epochs:
        failures += check_trained_backbone(kept, tuned)
    else:
        failures += check_identical_backbone(kept, tuned, features)

    model = onnx.load(os.path.join(out, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    metadata = {p.key: p.value for p in model.metadata_props}
    if metadata.get("fovea.labels", "").split() != sorted(CLASSES.values()):
        failures.append(f"labels {metadata.get('fovea.labels')!r}")
    if metadata.get("fovea.train.source") != args.source:
        failures.append(f"fovea.train.source {metadata.get('fovea.train.source')!r}")
    source_metadata = {p.key: p.value for p in onnx.load(args.source).metadata_props}
    if metadata.get("fovea.train.architecture") != source_metadata.get("fovea.train.architecture"):
        failures.append(f"fovea.train.architecture {metadata.get('fovea.train.architecture')!r}, the source's is "
                        f"{source_metadata.get('fovea.train.architecture')!r}")

    if args.opencv:
        failures += compare_with_opencv(os.path.join(out, "model.onnx"), args.work, rows, args.test_per_class)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print("ok")


def check_identical_backbone(kept, tuned, features):
    failures = []
    for name, tensor in kept.items():
        if name not in tuned or tuned[name].SerializeToString() != tensor.SerializeToString():
            failures.append(f"backbone initializer {name} is missing or changed")
    added = {name: numpy_helper.to_array(t).shape for name, t in tuned.items() if name not in kept}
    print(f"{len(kept)} backbone initializers bit-identical; new: {added}")
    if sorted(added.values()) != sorted([(len(CLASSES), features), (len(CLASSES),)]):
        failures.append(f"new initializers {added}, wanted a [3, {features}] weight and a [3] bias")
    return failures


def check_trained_backbone(kept, tuned):
    failures, moved = [], []
    for name, tensor in kept.items():
        before = numpy_helper.to_array(tensor)
        after = numpy_helper.to_array(tuned[name]) if name in tuned else None
        if after is None or after.shape != before.shape:
            failures.append(f"backbone initializer {name} is missing or reshaped")
        elif name.startswith("conv") and name.endswith(".weight"):
            moved.append(float(np.abs(after - before).max()))
    print(f"{len(kept)} backbone initializers kept by name; convolution weights moved by up to {moved}")
    if not moved or min(moved) == 0:
        failures.append("a convolution's weights did not change while unfrozen")
    return failures


def compare_with_opencv(model_path, work, rows, test_per_class):
    net = cv2.dnn.readNetFromONNX(model_path)
    disagree = 0
    for row_index, name in enumerate(sorted(os.listdir(os.path.join(work, "test")))):
        folder = os.path.join(work, "test", name)
        files = sorted(os.listdir(folder))
        batch = np.stack([cv2.imread(os.path.join(folder, f), cv2.IMREAD_GRAYSCALE) for f in files])
        net.setInput(batch[:, None].astype(np.float32) / 255.0)
        predicted = net.forward().argmax(1)
        ours = [int(r["predicted"]) for r in rows[row_index * test_per_class:(row_index + 1) * test_per_class]]
        disagree += int(np.sum(predicted != np.array(ours)))
    print(f"OpenCV DNN disagrees with fovea-train on {disagree} of {len(rows)} test images")
    return [f"OpenCV DNN disagrees on {disagree} images"] if disagree else []


if __name__ == "__main__":
    main()
