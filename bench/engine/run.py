#!/usr/bin/python3
"""Engine benchmark: Fovea vs PyTorch on the same weights, in one script.

The model is the 5-conv GAP CNN of the engine issue (1x28x28 input; conv 32, 32, maxpool, 64, 64, maxpool, 128, each
3x3 pad 1 with BatchNorm and ReLU; global average pool; linear 10; 43.8 MFLOP per image). PyTorch runs eager,
TorchScript (trace + freeze) and TorchScript + torch.jit.optimize_for_inference; Fovea runs the ONNX export of the
same module through bench/engine/engine_bench. Threads: torch.set_num_threads(n) here, OMP_NUM_THREADS=n for Fovea.

usage: /usr/bin/python3 bench/engine/run.py --engine-bench build/bin/engine_bench [--fma-peak build/bin/fma_peak]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import torch

MFLOP_PER_IMAGE = 43.8
BATCHES = [1, 8, 64, 256]
THREADS = [1, 2]


def gap_cnn():
    def block(cin, cout):
        return [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()]
    layers = [*block(1, 32), *block(32, 32), torch.nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
              torch.nn.MaxPool2d(2), *block(64, 128), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
              torch.nn.Linear(128, 10)]
    model = torch.nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def time_torch(fn, batch, seconds, item_shape=(1, 28, 28)):
    """Throughput and latency of fn(x) on a random [batch, *item_shape] tensor; fn may also be a non-torch callable
    (bench/compare/run.py times OpenCV DNN through it)."""
    x = torch.rand(batch, *item_shape)
    with torch.no_grad():
        for _ in range(3):
            fn(x)
        latencies = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(latencies) < 10:
            t0 = time.perf_counter()
            fn(x)
            latencies.append((time.perf_counter() - t0) * 1e3)
        total = time.perf_counter() - start
    latencies.sort()
    return {"images_per_s": batch * len(latencies) / total, "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * (len(latencies) - 1) + 0.5))]}


def torch_variants(model, item_shape=(1, 28, 28)):
    example = torch.rand(1, *item_shape)
    with torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(model, example))
        optimized = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, example)))
    return {"torch_eager": model, "torchscript": traced, "torchscript_optimized": optimized}


def run_fovea(engine_bench, onnx_path, threads, seconds, batches=BATCHES, extra_args=()):
    """engine_bench's JSON line per batch size, keyed by batch; `extra_args` are passed on (e.g. --precision)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([engine_bench, onnx_path, "--batches", ",".join(map(str, batches)), "--seconds",
                          str(seconds), *extra_args], env=env, capture_output=True, text=True, check=True).stdout
    return {r["batch"]: r for r in map(json.loads, out.strip().splitlines())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine-bench", required=True)
    parser.add_argument("--fma-peak")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = gap_cnn()
    peak = {}
    if args.fma_peak:
        out = subprocess.run([args.fma_peak, "2"], capture_output=True, text=True, check=True).stdout
        peak = {r["threads"]: r["fp32_gflops"] for r in map(json.loads, out.strip().splitlines())}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "gap_cnn.onnx")
        torch.onnx.export(model, torch.rand(1, 1, 28, 28), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        rows = []
        for threads in THREADS:
            torch.set_num_threads(threads)
            fovea = run_fovea(args.engine_bench, onnx_path, threads, args.seconds)
            variants = torch_variants(model)
            for batch in BATCHES:
                row = {"threads": threads, "batch": batch, "fovea": fovea[batch]}
                for name, fn in variants.items():
                    row[name] = time_torch(fn, batch, args.seconds)
                rows.append(row)
    print("| threads | batch | Fovea img/s | Fovea p50 ms | Fovea p99 ms | eager img/s | TorchScript img/s | "
          "TS+optimize img/s | TS+opt p50 ms | Fovea/eager | Fovea/best torch | Fovea % of FP32 peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = r["fovea"]
        best = max(r["torch_eager"]["images_per_s"], r["torchscript"]["images_per_s"],
                   r["torchscript_optimized"]["images_per_s"])
        gflops = f["images_per_s"] * MFLOP_PER_IMAGE / 1e3
        peak_pct = f"{100 * gflops / peak[r['threads']]:.0f}%" if r["threads"] in peak else "n/a"
        print(f"| {r['threads']} | {r['batch']} | {f['images_per_s']:.0f} | {f['p50_ms']:.3f} | {f['p99_ms']:.3f} | "
              f"{r['torch_eager']['images_per_s']:.0f} | {r['torchscript']['images_per_s']:.0f} | "
              f"{r['torchscript_optimized']['images_per_s']:.0f} | {r['torchscript_optimized']['p50_ms']:.3f} | "
              f"{f['images_per_s'] / r['torch_eager']['images_per_s']:.2f}x | {f['images_per_s'] / best:.2f}x | "
              f"{peak_pct} |")
    if peak:
        print("\nFP32 peak (fma_peak): " + ", ".join(f"{t} thread(s) {g:.0f} GFLOP/s" for t, g in peak.items()))


if __name__ == "__main__":
    main()
