#!/usr/bin/python3
"""Serving overhead: Classify over loopback (batch 1, raw float32 tensor) vs the engine alone on the same model.

Starts fovea-server on a free 127.0.0.1 port with the given model repository, runs classify_bench at concurrency
1, 8 and 32, runs engine_bench at batch 1 on the same ONNX file with the same thread count, and prints a table with
the server's added p50 latency (server p50 at concurrency 1 minus engine p50 at batch 1).

usage: /usr/bin/python3 bench/server/run.py --bin build/bin [--models models] [--model fashion-mnist] [--seconds 5]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import time


INTERLEAVED_SECONDS = 1.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_lines(text):
    return [json.loads(line) for line in text.strip().splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="folder with fovea-server, fovea, classify_bench, engine_bench")
    parser.add_argument("--models", default="models")
    parser.add_argument("--model", default="fashion-mnist")
    parser.add_argument("--version", type=int, default=1, help="model version run by both the engine and the server")
    parser.add_argument("--input", default="1,28,28")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=0, help="fovea-server --threads (0 = one per core)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved engine/server rounds")
    args = parser.parse_args()
    tool = lambda name: os.path.join(args.bin, name)
    model_file = os.path.join(args.models, args.model, str(args.version), "model.onnx")

    # The engine alone runs with the oneDNN team size each server instance gets; the server runs as many batch-1
    # instances as --threads asks, without batching, so the figures stay comparable with the earlier runs.
    workers = args.threads or os.cpu_count()
    compute_threads = max(1, os.cpu_count() // workers)
    engine_env = dict(os.environ, OMP_NUM_THREADS=str(compute_threads))
    engine = json_lines(subprocess.run([tool("engine_bench"), model_file, "--batches", "1", "--seconds",
                                        str(args.seconds), "--input", args.input], capture_output=True, text=True,
                                       env=engine_env, check=True).stdout)[0]
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([tool("fovea-server"), "--address", address, "--model-repository", args.models,
                               "--threads", str(args.threads), "--instances", str(workers), "--compute-threads",
                               str(compute_threads), "--max-batch-size", "1", "--log-level", "warn", "--metrics-port",
                               "0", "--http-port", "0", "--version-policy", f"specific:{args.version}"])
    try:
        deadline = time.time() + 60
        while subprocess.run([tool("fovea"), "health", "--server", address], capture_output=True).returncode != 0:
            if time.time() > deadline:
                raise SystemExit("server did not become healthy")
            time.sleep(0.2)
        lines = json_lines(subprocess.run([tool("classify_bench"), "--server", address, "--model", args.model,
                                            "--input", args.input, "--concurrency", "1,8,32", "--seconds",
                                            str(args.seconds)], capture_output=True, text=True, check=True).stdout)
        round_trip = next(r for r in lines if r.get("rpc") == "ListModels")
        served = [r for r in lines if "concurrency" in r]
        interleaved = []
        for _ in range(args.rounds):
            # Engine and server measured back to back, so a drifting clock affects both sides of each difference.
            e = json_lines(subprocess.run([tool("engine_bench"), model_file, "--batches", "1", "--seconds",
                                           str(INTERLEAVED_SECONDS), "--input", args.input], capture_output=True,
                                          text=True, env=engine_env, check=True).stdout)[0]
            c = [r for r in json_lines(subprocess.run(
                [tool("classify_bench"), "--server", address, "--model", args.model, "--input", args.input,
                 "--concurrency", "1", "--seconds", str(INTERLEAVED_SECONDS)], capture_output=True, text=True,
                check=True).stdout) if "concurrency" in r][0]
            interleaved.append((e["p50_ms"] * 1e3, c["p50_ms"] * 1e3))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    print(f"fovea-server: {workers} worker(s) x {compute_threads} compute thread(s); engine alone with "
          f"{compute_threads} thread(s)")
    print(f"engine alone, batch 1: p50 {engine['p50_ms'] * 1e3:.0f} us, p99 {engine['p99_ms'] * 1e3:.0f} us, "
          f"{engine['images_per_s']:.0f} img/s")
    print(f"gRPC unary round trip on loopback (ListModels, no inference): p50 {round_trip['p50_ms'] * 1e3:.0f} us, "
          f"p99 {round_trip['p99_ms'] * 1e3:.0f} us")
    print("\n| concurrency | requests/s | p50 us | p99 us | errors |\n|---|---|---|---|---|")
    for r in served:
        print(f"| {r['concurrency']} | {r['requests_per_s']:.0f} | {r['p50_ms'] * 1e3:.0f} | {r['p99_ms'] * 1e3:.0f} |"
              f" {r['errors']} |")
    added = (served[0]["p50_ms"] - engine["p50_ms"]) * 1e3
    print(f"\nserver's added latency at p50 (concurrency 1, batch 1, raw tensor): {added:.0f} us (target <= 60 us)")
    if interleaved:
        diffs = sorted(s - e for e, s in interleaved)
        print(f"interleaved rounds ({len(diffs)} x {INTERLEAVED_SECONDS} s each side), added p50 per round: "
              + ", ".join(f"{d:.0f}" for d in diffs) + f" us; median {statistics.median(diffs):.0f} us")


if __name__ == "__main__":
    main()
