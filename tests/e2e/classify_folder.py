#!/usr/bin/python3
"""End-to-end: Fashion-MNIST test images as PNG files (1,000 by default), classified by `fovea classify` through the
real server, serving the bundled model or a freshly trained one (--model-file).

Asserts: one CSV row per file, no errors, and an accuracy equal to the engine's offline accuracy on the same pixels
(onnx_run on one batch, normalized as the model's metadata says). Talks only to 127.0.0.1.
"""
import argparse
import csv
import gzip
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import onnx

DATASET = "/usr/share/datasets/fashion-mnist"
HEALTH_WAIT_SECONDS = 60


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_metadata(path):
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    labels = props.get("fovea.labels", "").split("\n")
    mean = [float(v) for v in props.get("fovea.input.mean", "0").split(",")]
    std = [float(v) for v in props.get("fovea.input.std", "1").split(",")]
    return labels, mean[0], std[0]


def offline_predictions(onnx_run, model_path, pixels, mean, std, workdir):
    x = ((pixels.astype(np.float32) / 255.0 - mean) / std)[:, None, :, :]
    input_path = os.path.join(workdir, "batch.bin")
    x.tofile(input_path)
    prefix = os.path.join(workdir, "offline_out")
    subprocess.run([onnx_run, model_path, input_path, ",".join(map(str, x.shape)), prefix], check=True,
                   capture_output=True)
    return np.fromfile(prefix + "0.bin", dtype=np.float32).reshape(len(pixels), -1).argmax(axis=1)


def wait_healthy(cli, address):
    deadline = time.time() + HEALTH_WAIT_SECONDS
    while time.time() < deadline:
        if subprocess.run([cli, "health", "--server", address], capture_output=True).returncode == 0:
            return True
        time.sleep(0.2)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--cli-bin", required=True)
    parser.add_argument("--onnx-run", required=True)
    parser.add_argument("--model-repository", help="folder of <name>/<version>/model.onnx")
    parser.add_argument("--model-file", help="serve this ONNX file as <--model>/1 from a temporary repository")
    parser.add_argument("--model", default="fashion-mnist")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    images = read_idx(os.path.join(DATASET, "t10k-images-idx3-ubyte.gz"))[:args.count]
    truth = read_idx(os.path.join(DATASET, "t10k-labels-idx1-ubyte.gz"))[:args.count]

    with tempfile.TemporaryDirectory() as workdir:
        if args.model_file:
            args.model_repository = os.path.join(workdir, "repository")
            os.makedirs(os.path.join(args.model_repository, args.model, "1"))
            shutil.copy(args.model_file, os.path.join(args.model_repository, args.model, "1", "model.onnx"))
        # The server answers with the latest version; the offline reference must run the same file.
        versions = [int(v) for v in os.listdir(os.path.join(args.model_repository, args.model)) if v.isdigit()]
        model_path = os.path.join(args.model_repository, args.model, str(max(versions)), "model.onnx")
        labels, mean, std = model_metadata(model_path)
        folder = os.path.join(workdir, "images")
        os.makedirs(folder)
        names = []
        for i, img in enumerate(images):
            name = os.path.join(folder, f"{i:04d}.png")
            cv2.imwrite(name, img)
            names.append(name)
        offline = offline_predictions(args.onnx_run, model_path, images, mean, std, workdir)

        address = f"127.0.0.1:{free_port()}"
        server = subprocess.Popen([args.server_bin, "--address", address, "--model-repository",
                                   args.model_repository, "--metrics-port", "0", "--http-port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if not wait_healthy(args.cli_bin, address):
                print("FAIL: server never became healthy")
                return 1
            run = subprocess.run([args.cli_bin, "classify", folder, "--format", "csv", "--model", args.model,
                                  "--top-k", "1", "--server", address], capture_output=True, text=True)
        finally:
            server.send_signal(signal.SIGTERM)
            server_exit = server.wait(timeout=60)

    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    by_path = {row["path"]: row for row in rows}
    errors = [row for row in rows if row["status"] != "ok"]
    predicted = np.array([labels.index(by_path[n]["label_1"]) if n in by_path else -1 for n in names])
    served_accuracy = float(np.mean(predicted == truth))
    offline_accuracy = float(np.mean(offline == truth))
    checks = {
        f"CLI exit status 0 (got {run.returncode})": run.returncode == 0,
        f"{args.count} rows, one per file (got {len(rows)}, {len(by_path)} distinct)": len(rows) == args.count
        and len(by_path) == args.count,
        f"no errors (got {len(errors)})": not errors,
        f"served accuracy {served_accuracy:.4f} equals offline engine accuracy {offline_accuracy:.4f}":
            served_accuracy == offline_accuracy,
        f"every served top-1 equals the offline top-1 ({int(np.sum(predicted == offline))}/{args.count})":
            bool(np.all(predicted == offline)),
        f"server exited 0 on SIGTERM (got {server_exit})": server_exit == 0,
    }
    for text, ok in checks.items():
        print(("PASS " if ok else "FAIL ") + text)
    passed = sum(checks.values())
    print(f"{passed} passed, {len(checks) - passed} failed")
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
