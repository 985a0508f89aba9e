#!/usr/bin/python3
"""Instructions per Classify request in fovea-server, by function, from callgrind (repeatable where wall-clock
profiles are not: the counts do not depend on how busy the shared machine is).

Starts fovea-server under `valgrind --tool=callgrind` (one worker, one batcher instance, one compute thread,
--max-batch-size 1, no repository polling, --metrics-port 0) on a temporary repository holding --model as version 1,
sends one warm-up round of Classify calls with classify_bench, zeroes the counters (callgrind_control --zero), sends
--requests more calls (plus classify_bench's own 20 warm-up calls, all identical: one PNG or one raw float32 tensor,
batch 1, concurrency 1), dumps the counters and prints the instructions per request: in total, by shared object, and
for the top functions by self cost. Everything counted between zero and dump is charged to those requests, including
idle gRPC threads (a few percent at most at this request rate).

Valgrind emulates a CPU without AVX-512, so oneDNN runs its AVX2 kernels here: the engine's share is not the one of
the real server, but the serving path (gRPC, protobuf, decoding, batching, allocation) runs the same code.

usage: /usr/bin/python3 bench/compare/profile.py --bin build/bin [--model models/fashion-mnist/1/model.onnx]
           [--requests 200] [--input png|tensor] [--top 15] [--keep DIR]
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

import peers

batching_run = peers.load_bench_script("batching")

CLASSIFY_BENCH_WARMUP = 20  # classify_bench always sends this many Classify calls before the measured ones
START_SECONDS = 600  # model load and plan compilation run about 50x slower under valgrind
OBJECT_NAMES = {"???": "oneDNN JIT code"}


def start_server(args, repository, out_file):
    address = f"127.0.0.1:{batching_run.free_port()}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", "--smc-check=all-non-file",
               os.path.join(args.bin, "fovea-server"), "--address", address, "--model-repository", repository,
               "--metrics-port", "0", "--log-level", "warn", "--threads", "1", "--instances", "1",
               "--compute-threads", "1", "--max-batch-size", "1", "--repository-poll-secs", "0"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.time() + START_SECONDS
    while subprocess.run([os.path.join(args.bin, "fovea"), "health", "--server", address],
                         capture_output=True).returncode != 0:
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("fovea-server did not become healthy under valgrind")
        time.sleep(1)
    return process, address, command


def send(args, address, image_args, requests):
    out = subprocess.run([os.path.join(args.bin, "classify_bench"), "--server", address, "--model", "fashion-mnist",
                          "--version", "1", *image_args, "--concurrency", "1", "--requests", str(requests),
                          "--round-trips", "0"], capture_output=True, text=True, check=True).stdout
    result = batching_run.json_lines(out)[0]
    if result["errors"]:
        raise SystemExit(f"{result['errors']} Classify calls failed")


def annotate(dump):
    """[(self instructions, function, object)] from callgrind_annotate, and the total."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", dump], capture_output=True,
                         text=True, check=True).stdout
    total = int(re.search(r"^([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", out, re.M).group(1).replace(",", ""))
    rows = []
    for match in re.finditer(r"^\s*([\d,]+) \([\d.]+%\)\s+(.*?)(?: \[(.*)\])?$", out, re.M):
        name = match.group(2)
        if "PROGRAM TOTALS" in name:
            continue
        rows.append((int(match.group(1).replace(",", "")), name.split(":", 1)[-1],
                     os.path.basename(match.group(3) or "?")))
    return rows, total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="folder with fovea-server, fovea and classify_bench")
    parser.add_argument("--model", default=os.path.join("models", "fashion-mnist", "1", "model.onnx"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--input", choices=["png", "tensor"], default="png")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", help="copy the callgrind dump here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        repository = os.path.join(workdir, "models")
        os.makedirs(os.path.join(repository, "fashion-mnist", "1"))
        shutil.copy(args.model, os.path.join(repository, "fashion-mnist", "1", "model.onnx"))
        png_path = os.path.join(workdir, "item.png")
        with open(png_path, "wb") as f:
            f.write(peers.test_image_png()[0])
        image_args = ["--image", png_path] if args.input == "png" else ["--input", "1,28,28"]
        out_file = os.path.join(workdir, "callgrind.out")
        process, address, command = start_server(args, repository, out_file)
        try:
            send(args, address, image_args, 1)
            subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, capture_output=True)
            send(args, address, image_args, args.requests)
            subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
        finally:
            process.terminate()
            process.wait(timeout=300)
        dumps = sorted(f for f in os.listdir(workdir) if f.startswith("callgrind.out."))
        dump = os.path.join(workdir, dumps[0])
        if args.keep:
            shutil.copy(dump, args.keep)
        rows, total = annotate(dump)
    calls = args.requests + CLASSIFY_BENCH_WARMUP
    print("server: " + " ".join(command[command.index("--tool=callgrind") - 1:]).replace(workdir, "TMP"))
    print(f"\n{calls} Classify calls ({args.input}, batch 1): {total / calls:,.0f} instructions per request\n")
    by_object = {}
    for count, _, obj in rows:
        by_object[obj] = by_object.get(obj, 0) + count
    print("| object | instructions per request | share |\n|---|---|---|")
    for obj, count in sorted(by_object.items(), key=lambda kv: -kv[1]):
        if count / total >= 0.005:
            print(f"| {OBJECT_NAMES.get(obj, obj)} | {count / calls:,.0f} | {100 * count / total:.1f}% |")
    print(f"\n| function (self cost) | object | instructions per request | share |\n|---|---|---|---|")
    for count, name, obj in sorted(rows, key=lambda r: -r[0])[:args.top]:
        print(f"| `{name[:110]}` | {OBJECT_NAMES.get(obj, obj)} | {count / calls:,.0f} | {100 * count / total:.1f}% |")


if __name__ == "__main__":
    main()
