#!/usr/bin/python3
"""Classifies Fashion-MNIST test images through a running fovea-server with the host's `fovea` CLI and checks the
answers: every file reported once, no errors, top-1 accuracy above a floor. Used by `make docker-test` against the
container; talks only to the address it is given.
"""
import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile

import cv2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from classify_folder import DATASET, model_metadata, read_idx  # noqa: E402  (shared with the e2e test)

# The bundled model scores 93.59% on the whole test set; 100 images leave room for sampling noise, not for a
# broken pipeline (chance is 10%).
ACCURACY_FLOOR = 0.85


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli-bin", required=True)
    parser.add_argument("--server", required=True, help="HOST:PORT of the server under test")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--model-file", required=True, help="the served model.onnx, for its class labels")
    args = parser.parse_args()
    class_names = model_metadata(args.model_file)[0]

    images = read_idx(os.path.join(DATASET, "t10k-images-idx3-ubyte.gz"))[:args.count]
    truth = read_idx(os.path.join(DATASET, "t10k-labels-idx1-ubyte.gz"))[:args.count]
    with tempfile.TemporaryDirectory() as folder:
        names = []
        for i, pixels in enumerate(images):
            names.append(os.path.join(folder, f"{i:04d}.png"))
            cv2.imwrite(names[-1], pixels)
        run = subprocess.run([args.cli_bin, "classify", folder, "--format", "csv", "--top-k", "1", "--server",
                              args.server], capture_output=True, text=True)

    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    by_path = {row["path"]: row for row in rows}
    errors = [row for row in rows if row["status"] != "ok"]
    correct = sum(1 for name, label in zip(names, truth) if name in by_path and by_path[name]["status"] == "ok"
                  and by_path[name]["label_1"] == class_names[label])
    accuracy = correct / args.count
    checks = {
        f"CLI exit status 0 (got {run.returncode}; stderr tail: {run.stderr.strip()[-200:]!r})": run.returncode == 0,
        f"one row per file ({len(rows)} rows, {len(by_path)} distinct, {args.count} files)":
            len(rows) == args.count and set(by_path) == set(names),
        f"no errors (got {len(errors)})": not errors,
        f"top-1 accuracy {accuracy:.2f} >= {ACCURACY_FLOOR}": accuracy >= ACCURACY_FLOOR,
    }
    for text, ok in checks.items():
        print(("PASS " if ok else "FAIL ") + text)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
