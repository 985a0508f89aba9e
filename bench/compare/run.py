#!/usr/bin/python3
"""Fovea against PyTorch and OpenCV on the same weights, in one script run (issue 9).

Engine: the ONNX classifier (--model, the bundled fashion-mnist/1 by default) through Fovea's engine_bench at each
--precisions entry (fp32; bf16 = engine_bench --precision bf16; int8 = engine_bench on the quantized --int8-model),
PyTorch eager, TorchScript (trace + freeze) and TorchScript + optimize_for_inference on a torch module built from the
ONNX initializers (peers.TorchClassifier), OpenCV DNN (cv2.dnn.readNetFromONNX on the same file, its own CPU
backend) and ONNX Runtime (bench/peers/ort_bench.js on the same file, graph optimizations 'all'; install it with
bench/peers/install.sh, or leave it out with --skip-ort), at every --batches size and --threads count. Threads:
OMP_NUM_THREADS for Fovea, torch.set_num_threads, cv2.setNumThreads and ORT's intraOpNumThreads for the peers. The
runners of one (threads, batch) cell run back to back; --rounds repeats the whole sweep; each figure is the median
over rounds and each ratio the median of the ratios taken within each round. Before timing, Fovea (onnx_run) and ORT
must agree on one random batch within the zoo test's tolerance.

Server: fovea-server (defaults: dynamic batching, one single-threaded instance per core; a temporary repository
holding only --model as version 1; --metrics-port 0) against peer_server.py (Python gRPC + the PyTorch module, one
worker per core with one torch thread each), both on 127.0.0.1, both driven by the same load client (classify_bench,
the C++ client of bench/server and bench/batching) sending one Fashion-MNIST test image as PNG per Classify call, at
each --concurrency. Besides wall-clock throughput and latency, each server's requests per CPU-second of its own
process are reported (robust on a shared machine). Before timing, one Classify on each server checks that both
answer the same class with the same probability.

usage: /usr/bin/python3 bench/compare/run.py --bin build/bin [--model models/fashion-mnist/1/model.onnx]
           [--precisions fp32,bf16,int8 --int8-model models/fashion-mnist/2/model.onnx] [--batches 1,64]
           [--threads 1,2] [--seconds 3] [--concurrency 1,16] [--server-seconds 5] [--rounds 1]
           [--skip-engine] [--skip-server] [--skip-ort]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import peers

sys.path.insert(0, os.path.join(peers.BENCH, "peers"))
import ort_peer  # noqa: E402 (bench/peers)

engine_run = peers.load_bench_script("engine")
batching_run = peers.load_bench_script("batching")

TORCH_PEERS = {"torch_eager": "PyTorch eager", "torchscript": "TorchScript", "torchscript_optimized": "TS + optimize"}
OPENCV = "OpenCV DNN"
MODEL_NAME = "fashion-mnist"
MODEL_VERSION = 1
SERVER_START_SECONDS = 60
AGREEMENT_TOLERANCE = 1e-4  # probabilities of the same weights in different runtimes (float32 summation order)
AGREEMENT_BATCH = 4  # items in the random batch every runtime computes once before timing


def parse_list(text, kind=int):
    return [kind(v) for v in text.split(",") if v]


# ---------------------------------------------------------------------------------------------------------- engine

def fovea_runs(args, precision):
    """(model file, extra engine_bench arguments) for one precision."""
    if precision == "fp32":
        return args.model, []
    if precision == "bf16":
        return args.model, ["--precision", "bf16"]
    if precision == "int8":
        return args.int8_model, []
    raise SystemExit(f"unknown precision {precision}: use fp32, bf16, int8")


def measure_fovea(args, precision, threads):
    model, extra = fovea_runs(args, precision)
    by_batch = engine_run.run_fovea(os.path.join(args.bin, "engine_bench"), model, threads, args.seconds,
                                    args.batch_list, extra)
    for row in by_batch.values():
        # An engine_bench that reports its precision must report the one asked for; one that ignores --precision
        # would otherwise be recorded as bf16 while running fp32.
        if "precision" in row and row["precision"] != precision:
            raise SystemExit(f"engine_bench ran {row['precision']} when asked for {precision}")
    return by_batch


def check_peers_agree(runners, item_shape):
    """Max |difference| of every peer's output from PyTorch eager's on one random batch."""
    x = torch.rand(AGREEMENT_BATCH, *item_shape)
    with torch.no_grad():
        reference = runners["torch_eager"](x).numpy()
        return {name: float(np.max(np.abs(np.asarray(fn(x)) - reference))) for name, fn in runners.items()}


def measure_engine_round(args, module, item_shape):
    """{(threads, batch): {runner: engine_bench-style result}} for one sweep."""
    cells = {}
    for threads in args.thread_list:
        torch.set_num_threads(threads)
        runners = dict(engine_run.torch_variants(module, item_shape))
        runners[OPENCV] = peers.opencv_forward(peers.opencv_net(args.model, threads))
        fovea = {p: measure_fovea(args, p, threads) for p in args.precision_list}
        for batch in args.batch_list:
            cell = {f"Fovea {p}": fovea[p][batch] for p in args.precision_list}
            for name, fn in runners.items():
                cell[TORCH_PEERS.get(name, name)] = engine_run.time_torch(fn, batch, args.seconds, item_shape)
            if not args.skip_ort:
                cell[ort_peer.NAME] = ort_peer.measure(args.model, [batch, *item_shape], threads, args.seconds)
            cells[(threads, batch)] = cell
    return cells, check_peers_agree(runners, item_shape)


def median_cells(rounds, fovea_names):
    """Per cell and runner: median img/s and p50 over the rounds, and for each Fovea runner the median over rounds of
    its img/s and p50 ratios to this runner, each taken within its round (the machine drifts between rounds)."""
    merged = {}
    for key in rounds[0]:
        merged[key] = {}
        for runner in rounds[0][key]:
            samples = [r[key][runner] for r in rounds]
            row = {m: statistics.median(s[m] for s in samples) for m in ("images_per_s", "p50_ms")}
            for f in fovea_names:
                row[f] = {m: statistics.median(r[key][f][m] / r[key][runner][m] for r in rounds)
                          for m in ("images_per_s", "p50_ms")}
            merged[key][runner] = row
    return merged


def check_ort_agrees(args, item_shape):
    """Max relative difference of Fovea's output from ORT's on one random batch; stops the run when they disagree,
    since timing two runtimes that compute different things compares nothing."""
    x = np.random.default_rng(0).random((AGREEMENT_BATCH, *item_shape), dtype=np.float32)
    with tempfile.TemporaryDirectory() as workdir:
        diff = ort_peer.agreement(os.path.join(args.bin, "onnx_run"), args.model, x, workdir)
    if diff > ort_peer.MAX_RELATIVE_DIFF:
        raise SystemExit(f"Fovea and {ort_peer.NAME} disagree on {args.model}: max relative difference {diff:.2e}")
    return diff


def print_engine_table(cells, precisions):
    fovea_names = [f"Fovea {p}" for p in precisions]
    header = ["threads", "batch", "runner", "img/s", "p50 ms"]
    header += [f"{f} img/s ÷ this" for f in fovea_names] + [f"{f} p50 ÷ this" for f in fovea_names]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for (threads, batch), cell in cells.items():
        for runner, r in cell.items():
            row = [str(threads), str(batch), runner, f"{r['images_per_s']:.0f}", f"{r['p50_ms']:.3f}"]
            if runner in fovea_names:
                row += [""] * (2 * len(fovea_names))
            else:
                row += [f"{r[f]['images_per_s']:.2f}x" for f in fovea_names]
                row += [f"{r[f]['p50_ms']:.2f}" for f in fovea_names]
            print("| " + " | ".join(row) + " |")


def run_engine(args):
    module = peers.TorchClassifier(args.model).eval()
    item_shape = peers.input_spec(args.model)[:3]
    ort_diff = None if args.skip_ort else check_ort_agrees(args, item_shape)
    rounds, agreement = [], {}
    for _ in range(args.rounds):
        cells, agreement = measure_engine_round(args, module, item_shape)
        rounds.append(cells)
    print(f"\n### Engine: {args.model}, {args.rounds} round(s) x {args.seconds} s per cell, median\n")
    print_engine_table(median_cells(rounds, [f"Fovea {p}" for p in args.precision_list]), args.precision_list)
    print(f"\nmax |output - PyTorch eager| on a random batch of {AGREEMENT_BATCH}: " +
          ", ".join(f"{TORCH_PEERS.get(k, k)} {v:.1e}" for k, v in agreement.items()))
    if ort_diff is not None:
        print(f"max |Fovea - {ort_peer.NAME}| / max |{ort_peer.NAME}| on a random batch of {AGREEMENT_BATCH}: "
              f"{ort_diff:.1e}")


# ---------------------------------------------------------------------------------------------------------- server

class PeerServer:
    """peer_server.py on a free 127.0.0.1 port; ready (answers ListModels) when constructed."""

    def __init__(self, model, stub_module, variant):
        self.address = f"127.0.0.1:{batching_run.free_port()}"
        self.process = subprocess.Popen([sys.executable, os.path.join(peers.HERE, "peer_server.py"), "--model", model,
                                         "--address", self.address, "--name", MODEL_NAME, "--version",
                                         str(MODEL_VERSION), "--variant", variant])
        pb, stub = stub_module
        deadline = time.time() + SERVER_START_SECONDS
        while True:
            try:
                stub(self.address).ListModels(pb.ListModelsRequest(), timeout=2)
                return
            except Exception:  # noqa: BLE001 (any failure means not up yet)
                if time.time() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise SystemExit("peer_server did not start")
                time.sleep(0.3)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def classify_once(stub_module, address, png):
    pb, stub = stub_module
    request = pb.ClassifyRequest(model_name=MODEL_NAME, model_version=MODEL_VERSION, top_k=1)
    request.images.add(encoded=png)
    result = stub(address).Classify(request, timeout=10).results[0]
    if result.HasField("error"):
        raise SystemExit(f"{address}: {result.error.message}")
    return result.predictions[0].class_index, result.predictions[0].probability


def load(args, address, png_path, pid):
    """classify_bench at every concurrency: {concurrency: result + requests per server CPU-second}, and the
    ListModels round trip."""
    rows = {}
    round_trip = None
    for concurrency in args.concurrency_list:
        before = batching_run.process_cpu_seconds(pid)
        out = subprocess.run([os.path.join(args.bin, "classify_bench"), "--server", address, "--model", MODEL_NAME,
                              "--version", str(MODEL_VERSION), "--image", png_path, "--concurrency",
                              str(concurrency), "--seconds", str(args.server_seconds)],
                             capture_output=True, text=True, check=True).stdout
        cpu = batching_run.process_cpu_seconds(pid) - before
        lines = batching_run.json_lines(out)
        round_trip = round_trip or lines[0]
        rows[concurrency] = dict(lines[1], requests_per_cpu_s=lines[1]["requests"] / cpu)
    return rows, round_trip


def median_rows(samples):
    keys = ("requests_per_s", "p50_ms", "p99_ms", "requests_per_cpu_s")
    return {c: dict({k: statistics.median(s[c][k] for s in samples) for k in keys},
                    errors=sum(s[c]["errors"] for s in samples)) for c in samples[0]}


def print_server_table(fovea, peer, peer_name):
    header = ["server", "concurrency", "req/s", "p50 ms", "p99 ms", "errors", "req per server CPU-s",
              "Fovea req/s ÷ peer", "Fovea p50 ÷ peer", "Fovea p99 ÷ peer", "Fovea req/CPU-s ÷ peer"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, rows in (("fovea-server", fovea), (peer_name, peer)):
        for c, r in rows.items():
            row = [name, str(c), f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}",
                   str(r["errors"]), f"{r['requests_per_cpu_s']:.0f}"]
            if name == "fovea-server":
                p = peer[c]
                row += [f"{r['requests_per_s'] / p['requests_per_s']:.2f}x", f"{r['p50_ms'] / p['p50_ms']:.2f}",
                        f"{r['p99_ms'] / p['p99_ms']:.2f}", f"{r['requests_per_cpu_s'] / p['requests_per_cpu_s']:.2f}x"]
            else:
                row += [""] * 4
            print("| " + " | ".join(row) + " |")


def run_server(args, workdir):
    import grpc
    os.makedirs(os.path.join(workdir, "stubs"))
    pb, pb_grpc = peers.generate_stubs(os.path.join(workdir, "stubs"))
    stub_module = (pb, lambda address: pb_grpc.InferenceStub(grpc.insecure_channel(address)))
    repository = os.path.join(workdir, "models")
    os.makedirs(os.path.join(repository, MODEL_NAME, str(MODEL_VERSION)))
    shutil.copy(args.model, os.path.join(repository, MODEL_NAME, str(MODEL_VERSION), "model.onnx"))
    png, label = peers.test_image_png()
    png_path = os.path.join(workdir, "item.png")
    with open(png_path, "wb") as f:
        f.write(png)

    tool = lambda name: os.path.join(args.bin, name)  # noqa: E731
    fovea = batching_run.Server(tool, repository, [], metrics=False)
    peer = None
    try:
        peer = PeerServer(args.model, stub_module, args.peer_variant)
        answers = {name: classify_once(stub_module, address, png)
                   for name, address in (("fovea-server", fovea.address), ("peer", peer.address))}
        (fovea_class, fovea_p), (peer_class, peer_p) = answers["fovea-server"], answers["peer"]
        if fovea_class != peer_class or abs(fovea_p - peer_p) > AGREEMENT_TOLERANCE:
            raise SystemExit(f"servers disagree on the test image: fovea-server {answers['fovea-server']}, "
                             f"peer {answers['peer']}")
        fovea_samples, peer_samples, floors = [], [], []
        for _ in range(args.rounds):
            rows, floor = load(args, fovea.address, png_path, fovea.process.pid)
            fovea_samples.append(rows)
            peer_rows, peer_floor = load(args, peer.address, png_path, peer.process.pid)
            peer_samples.append(peer_rows)
            floors.append((floor, peer_floor))
    finally:
        fovea.stop()
        if peer is not None:
            peer.stop()

    peer_name = f"Python gRPC + {TORCH_PEERS[args.peer_variant]}"
    print(f"\n### Server: Classify of one {len(png)}-byte PNG per call (test image 0, class {label}), "
          f"{args.rounds} round(s) x {args.server_seconds} s per cell, median\n")
    print(f"Both servers answer class {fovea_class} (p = {fovea_p:.6f} / {peer_p:.6f}).\n")
    print_server_table(median_rows(fovea_samples), median_rows(peer_samples), peer_name)
    print("\ngRPC floor (ListModels p50 / p99 ms, same client): " + "; ".join(
        f"fovea-server {f['p50_ms']:.3f} / {f['p99_ms']:.3f}, peer {p['p50_ms']:.3f} / {p['p99_ms']:.3f}"
        for f, p in floors))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="folder with engine_bench, fovea-server, fovea, classify_bench")
    parser.add_argument("--model", default=os.path.join("models", MODEL_NAME, "1", "model.onnx"))
    parser.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16, int8")
    parser.add_argument("--int8-model", help="quantized (QDQ) ONNX file of the same network, for int8")
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--server-seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--peer-variant", default="torchscript_optimized", choices=list(TORCH_PEERS))
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-ort", action="store_true", help="leave ONNX Runtime out (not installed)")
    args = parser.parse_args()
    args.precision_list = parse_list(args.precisions, str)
    args.batch_list = parse_list(args.batches)
    args.thread_list = parse_list(args.threads)
    args.concurrency_list = parse_list(args.concurrency)
    if "int8" in args.precision_list and not args.int8_model:
        parser.error("--precisions int8 needs --int8-model")
    if not args.skip_engine and not args.skip_ort:
        ort_peer.require_installed()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if not args.skip_engine:
        run_engine(args)
    if not args.skip_server:
        with tempfile.TemporaryDirectory() as workdir:
            run_server(args, workdir)


if __name__ == "__main__":
    main()
