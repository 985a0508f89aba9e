#!/usr/bin/python3
"""Instructions per Classify request in fovea-server, by function, from callgrind (repeatable where wall-clock
profiles are not: the counts do not depend on how busy the shared machine is).

Starts fovea-server under `valgrind --tool=callgrind` with OMP_WAIT_POLICY=passive (one worker, one batcher instance,
one compute thread, --max-batch-size 1, no repository polling, --metrics-port 0) on a temporary repository holding
--model as version 1, sends one warm-up Classify call with classify_bench, zeroes the counters (callgrind_control
--zero), sends --requests more calls (plus classify_bench's own 20 warm-up calls, all identical: one PNG or one raw
float32 tensor, batch 1, concurrency 1), dumps the counters and prints the instructions per request: in total, by
shared object, and for the top functions of the serving path (everything but oneDNN) by self cost. Everything
counted between zero and dump is charged to those requests, including idle gRPC threads.

Valgrind emulates a CPU without AVX-512, so oneDNN runs its AVX2 kernels here: the engine's share is not the one of
the real server, but the serving path (gRPC, protobuf, decoding, batching, allocation) runs the same code.

usage: /usr/bin/python3 bench/compare/profile.py --bin build/bin [--model models/fashion-mnist/1/model.onnx]
           [--requests 200] [--input png|tensor] [--top 15] [--keep FILE]
       /usr/bin/python3 bench/compare/profile.py --bin build/bin --requests 100 --report FILE   (a kept dump again)
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

# Thread entry frames: after callgrind_control --zero, callgrind_annotate shows the whole inclusive cost of each
# thread as their self cost. They are left out of every figure (the script checks that the rest adds up to the total).
# common::ThreadPool's job loop and the batcher's instance loop run for the whole life of their threads too, so they
# are such frames as well.
THREAD_ENTRY = re.compile(r"^(clone|start_thread)$|^std::thread::_State_impl<|^fovea::common::ThreadPool::RunJobs\(\)$"
                          r"|^std::_Function_handler<void \(\), fovea::server::Batcher::Batcher\(")
THREAD_ENTRY_OBJECTS = ("libstdc++.so", "libgpr.so", "libgomp.so")  # their unnamed thread routines
ENGINE_OBJECTS = ("???", "libdnnl.so", "libgomp.so")
CLASSIFY_BENCH_WARMUP = 20  # classify_bench always sends this many Classify calls before the measured ones
START_SECONDS = 600  # model load and plan compilation run about 50x slower under valgrind
OBJECT_NAMES = {"???": "oneDNN JIT code"}


def start_server(args, repository, out_file):
    address = f"127.0.0.1:{batching_run.free_port()}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", "--smc-check=all-non-file",
               os.path.join(args.bin, "fovea-server"), "--address", address, "--model-repository", repository,
               "--metrics-port", "0", "--log-level", "warn", "--threads", "1", "--instances", "1",
               "--compute-threads", "1", "--max-batch-size", "1", "--repository-poll-secs", "0"]
    # Spinning OpenMP threads would burn valgrind's single execution lock (and be counted); passive ones sleep.
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
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
    rows, excluded = [], []
    for match in re.finditer(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[(.*)\])?$", out, re.M):
        if "PROGRAM TOTALS" in match.group(2):
            continue
        row = (int(match.group(1).replace(",", "")), match.group(2).split(":", 1)[-1],
               os.path.basename(match.group(3) or "?"))
        unnamed_routine = row[1].startswith("0x") and row[2].startswith(THREAD_ENTRY_OBJECTS) and row[0] > total / 100
        (excluded if THREAD_ENTRY.search(row[1]) or unnamed_routine else rows).append(row)
    return rows, excluded, total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="folder with fovea-server, fovea and classify_bench")
    parser.add_argument("--model", default=os.path.join("models", "fashion-mnist", "1", "model.onnx"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--input", choices=["png", "tensor"], default="png")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", help="copy the callgrind dump to this file")
    parser.add_argument("--report", help="only print the report of a dump kept earlier (same --requests, --input)")
    args = parser.parse_args()
    if args.report:
        print_report(args, ["valgrind", "--tool=callgrind", "(kept dump)"], "", *annotate(args.report))
        return
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
        rows, excluded, total = annotate(dump)
    print_report(args, command, workdir, rows, excluded, total)


def print_report(args, command, workdir, rows, excluded, total):
    calls = args.requests + CLASSIFY_BENCH_WARMUP
    counted = sum(r[0] for r in rows)
    serving = [r for r in rows if not r[2].startswith(ENGINE_OBJECTS)]
    serving_total = sum(r[0] for r in serving)
    server = " ".join(command[command.index("--tool=callgrind") - 1:])
    print("server: " + (server.replace(workdir, "TMP") if workdir else server))
    print(f"thread entry frames left out: {', '.join(sorted({r[1][:40] for r in excluded}))}; the other functions "
          f"add up to {100 * counted / total:.1f}% of the total")
    print(f"\n{calls} Classify calls ({args.input}, batch 1): {total / calls:,.0f} instructions per request, of which "
          f"serving (everything but oneDNN) {serving_total / calls:,.0f}\n")
    by_object = {}
    for count, _, obj in rows:
        by_object[obj] = by_object.get(obj, 0) + count
    print("| object | instructions per request | share of all |\n|---|---|---|")
    for obj, count in sorted(by_object.items(), key=lambda kv: -kv[1]):
        if count / total >= 0.001:
            print(f"| {OBJECT_NAMES.get(obj, obj)} | {count / calls:,.0f} | {100 * count / total:.1f}% |")
    print("\nServing path, top functions by self cost:\n")
    print("| function | object | instructions per request | share of serving |\n|---|---|---|---|")
    for count, name, obj in sorted(serving, key=lambda r: -r[0])[:args.top]:
        print(f"| `{name[:100]}` | {obj} | {count / calls:,.0f} | {100 * count / serving_total:.1f}% |")


if __name__ == "__main__":
    main()
