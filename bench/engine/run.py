#!/usr/bin/python3
"""Engine benchmark: Fovea vs PyTorch on the same weights, in one script.

The model is the 5-conv GAP CNN of the engine issue (1x28x28 input; conv 32, 32, maxpool, 64, 64, maxpool, 128, each
3x3 pad 1 with BatchNorm and ReLU; global average pool; linear 10; 43.8 MFLOP per image). PyTorch runs eager,
TorchScript (trace + freeze) and TorchScript + torch.jit.optimize_for_inference; Fovea runs the ONNX export of the
same module through bench/engine/engine_bench. Threads: torch.set_num_threads(n) here, OMP_NUM_THREADS=n for Fovea.

The machine is shared and its speed drifts by tens of percent within a minute, so the measurements come in rounds:
each round measures the FP32 peak (fma_peak), Fovea and the three PyTorch variants back to back for one thread
count, and each ratio is taken within its round. The table gives medians over the rounds; the peak column also gives
the range.

usage: /usr/bin/python3 bench/engine/run.py --engine-bench build/bin/engine_bench [--fma-peak build/bin/fma_peak]
           [--seconds 3] [--rounds 3]
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


def fma_peak(tool, threads):
    """Best FP32 GFLOP/s of fma_peak's FMA loop on `threads` threads."""
    out = subprocess.run([tool, str(threads)], capture_output=True, text=True, check=True).stdout
    return {r["threads"]: r["fp32_gflops"] for r in map(json.loads, out.strip().splitlines())}[threads]


def measure_round(args, model, onnx_path, threads):
    """One round for one thread count: the peak, then Fovea and PyTorch at every batch size, back to back."""
    torch.set_num_threads(threads)
    peak = fma_peak(args.fma_peak, threads) if args.fma_peak else None
    fovea = run_fovea(args.engine_bench, onnx_path, threads, args.seconds)
    variants = torch_variants(model)
    cells = {}
    for batch in BATCHES:
        cell = {"fovea": fovea[batch], "peak": peak}
        for name, fn in variants.items():
            cell[name] = time_torch(fn, batch, args.seconds)
        cells[batch] = cell
    return cells


def summarize(cells):
    """Medians over the rounds of one (threads, batch) cell; ratios are taken within each round."""
    def median(f):
        return statistics.median(f(c) for c in cells)

    def best_torch(c):
        return max(c[name]["images_per_s"] for name in ("torch_eager", "torchscript", "torchscript_optimized"))

    row = {
        "fovea_ips": median(lambda c: c["fovea"]["images_per_s"]),
        "fovea_p50": median(lambda c: c["fovea"]["p50_ms"]),
        "fovea_p99": median(lambda c: c["fovea"]["p99_ms"]),
        "eager_ips": median(lambda c: c["torch_eager"]["images_per_s"]),
        "ts_ips": median(lambda c: c["torchscript"]["images_per_s"]),
        "tso_ips": median(lambda c: c["torchscript_optimized"]["images_per_s"]),
        "tso_p50": median(lambda c: c["torchscript_optimized"]["p50_ms"]),
        "vs_eager": median(lambda c: c["fovea"]["images_per_s"] / c["torch_eager"]["images_per_s"]),
        "vs_best": median(lambda c: c["fovea"]["images_per_s"] / best_torch(c)),
        "p50_vs_best": median(lambda c: c["fovea"]["p50_ms"] / c["torchscript_optimized"]["p50_ms"]),
    }
    if all(c["peak"] for c in cells):
        shares = sorted(100 * c["fovea"]["images_per_s"] * MFLOP_PER_IMAGE / 1e3 / c["peak"] for c in cells)
        row["peak"] = f"{statistics.median(shares):.0f}% ({shares[0]:.0f}–{shares[-1]:.0f}%)"
    else:
        row["peak"] = "n/a"
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine-bench", required=True)
    parser.add_argument("--fma-peak")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = gap_cnn()
    measured = {}  # (threads, batch) -> one cell per round
    peaks = {threads: [] for threads in THREADS}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "gap_cnn.onnx")
        torch.onnx.export(model, torch.rand(1, 1, 28, 28), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        for _ in range(args.rounds):
            for threads in THREADS:
                for batch, cell in measure_round(args, model, onnx_path, threads).items():
                    measured.setdefault((threads, batch), []).append(cell)
                    if batch == BATCHES[0] and cell["peak"]:
                        peaks[threads].append(cell["peak"])
    print(f"medians over {args.rounds} round(s) of {args.seconds:g} s per cell; ratios within each round")
    print("| threads | batch | Fovea img/s | Fovea p50 ms | Fovea p99 ms | eager img/s | TorchScript img/s | "
          "TS+optimize img/s | TS+opt p50 ms | Fovea/eager | Fovea/best torch | Fovea p50 / TS+opt p50 | "
          "Fovea % of FP32 peak (range) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (threads, batch), cells in measured.items():
        r = summarize(cells)
        print(f"| {threads} | {batch} | {r['fovea_ips']:.0f} | {r['fovea_p50']:.3f} | {r['fovea_p99']:.3f} | "
              f"{r['eager_ips']:.0f} | {r['ts_ips']:.0f} | {r['tso_ips']:.0f} | {r['tso_p50']:.3f} | "
              f"{r['vs_eager']:.2f}x | {r['vs_best']:.2f}x | {r['p50_vs_best']:.2f}x | {r['peak']} |")
    if any(peaks.values()):
        print("\nFP32 peak (fma_peak), per round: " +
              "; ".join(f"{t} thread(s) " + ", ".join(f"{g:.0f}" for g in p) + " GFLOP/s" for t, p in peaks.items()))


if __name__ == "__main__":
    main()
