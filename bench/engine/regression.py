#!/usr/bin/python3
"""Engine regression check: two builds of engine_bench on the same model, alternating, as ratios within each round.

A change to the engine (a refactor of the op interface, a new pass) must not make the bundled model slower. The
machine's speed drifts by tens of percent within a minute, so the two builds run back to back in each round, in
alternating order (A B, then B A, ...), and each round gives the ratio new / old throughput per batch size and thread
count. The table gives the median ratio over the rounds and its range; a ratio whose range includes 1.0 is noise.

usage: /usr/bin/python3 bench/engine/regression.py --old OLD/engine_bench --new build/bin/engine_bench
           [--model models/fashion-mnist/1/model.onnx] [--seconds 2] [--rounds 6] [--batches 1,8,64,256]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import run_fovea  # noqa: E402  (the same engine_bench invocation as the PyTorch comparison)

THREADS = [1, 2]


def measure_round(args, batches, threads, new_first):
    order = [("new", args.new), ("old", args.old)]
    if not new_first:
        order.reverse()
    results = {name: run_fovea(path, args.model, threads, args.seconds, batches) for name, path in order}
    return {b: results["new"][b]["images_per_s"] / results["old"][b]["images_per_s"] for b in batches}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="engine_bench of the baseline build")
    parser.add_argument("--new", required=True, help="engine_bench of the build under test")
    parser.add_argument("--model", default="models/fashion-mnist/1/model.onnx")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batches", default="1,8,64,256")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    ratios = {(t, b): [] for t in THREADS for b in batches}
    for r in range(args.rounds):
        for t in THREADS:
            for b, ratio in measure_round(args, batches, t, new_first=(r % 2 == 0)).items():
                ratios[(t, b)].append(ratio)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    print(f"new / old images per second, median (min–max) over {args.rounds} alternating rounds of "
          f"{args.seconds:g} s each")
    print()
    print("| threads | batch | new / old | range |")
    print("|---|---|---|---|")
    for (t, b), values in ratios.items():
        print(f"| {t} | {b} | {statistics.median(values):.3f} | {min(values):.3f}–{max(values):.3f} |")


if __name__ == "__main__":
    main()
