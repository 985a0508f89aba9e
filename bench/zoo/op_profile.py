#!/usr/bin/python3
"""Where one model's time goes in Fovea: milliseconds per run by oneDNN primitive kind and implementation, the
slowest primitives, and what is left outside oneDNN, from engine_bench under ONEDNN_VERBOSE=1 (the engine has no
timers of its own; every op but the few reference kernels runs as a oneDNN primitive, and oneDNN 2.6 prints each
primitive's execution time). Implementations named `ref:` are oneDNN's plain reference loops, the first places to
look for a slow model.

engine_bench prints the primitives of model loading (weight reorders), of its warm-up runs and of the timed runs.
Every run executes the same primitives in the same order, so the script finds that period in the log and keeps only
the timed runs (the last `runs` periods, `runs` from engine_bench's JSON). "Outside oneDNN" is the mean wall time of
a run minus its primitives' sum: Fovea's own kernels and overhead, plus the cost of printing the log.

usage: /usr/bin/python3 bench/zoo/op_profile.py MODEL [MODEL ...] [--bin build/bin] [--cache build/tests/zoo/cache]
           [--batch 1] [--threads 2] [--seconds 2] [--top 10] [--input C,H,W (for an .onnx path)]
MODEL is a zoo classifier's name (its export in --cache, made if missing) or a path to an .onnx file.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "zoo"))
import zoo  # noqa: E402 (tests/zoo)

VERBOSE_PREFIXES = ("onednn_verbose,exec,", "dnnl_verbose,exec,")
# Fields of an exec line: prefix, exec, engine, primitive, implementation, prop_kind, memory descriptors, attributes,
# auxiliary, problem description, time in ms.
KIND, IMPLEMENTATION, MEMORY, PROBLEM = 3, 4, 6, 9


def model_file(name, args):
    """(onnx path, item shape) of a zoo classifier or of an ONNX file given with --input."""
    if name in zoo.classifier_sides():
        side = zoo.classifier_sides()[name]
        return zoo.export(name, zoo.DEFAULT_OPSET, args.cache)[0], f"3,{side},{side}"
    if not args.input:
        raise SystemExit(f"{name} is not a zoo classifier: give an .onnx path and --input C,H,W")
    return name, args.input


def parse_log(text):
    """[(kind, implementation, memory, problem, ms)] of every primitive execution in a oneDNN verbose log."""
    rows = []
    for line in text.splitlines():
        if line.startswith(VERBOSE_PREFIXES):
            fields = line.split(",")
            rows.append((fields[KIND], fields[IMPLEMENTATION], fields[MEMORY], fields[PROBLEM], float(fields[-1])))
    return rows


def timed_runs(rows, runs):
    """The executions of the last `runs` runs: the longest period that the tail of the log repeats `runs` times."""
    signature = [r[:4] for r in rows]
    for period in range(len(rows) // runs, 0, -1):
        tail = signature[len(rows) - runs * period:]
        if all(tail[i] == tail[i % period] for i in range(len(tail))):
            return rows[len(rows) - runs * period:], period
    raise SystemExit("the verbose log does not repeat once per run; cannot tell the runs apart")


def profile(path, item, args):
    """engine_bench's JSON result, and the primitives of one timed run: {(kind, impl): ms}, [(ms, row)]."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", OMP_NUM_THREADS=str(args.threads))
    run = subprocess.run([os.path.join(args.bin, "engine_bench"), path, "--batches", str(args.batch), "--seconds",
                          str(args.seconds), "--input", item], env=env, capture_output=True, text=True)
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not results:
        raise SystemExit(f"engine_bench failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    result = results[0]
    rows, period = timed_runs(parse_log(run.stdout), result["runs"])
    by_kind = defaultdict(float)
    by_primitive = defaultdict(float)
    for kind, impl, memory, problem, ms in rows:
        by_kind[(kind, impl)] += ms / result["runs"]
        by_primitive[(kind, impl, memory, problem)] += ms / result["runs"]
    return result, period, by_kind, by_primitive


def report(name, args, result, period, by_kind, by_primitive):
    """Markdown: the kind/implementation table, the slowest primitives, and the ref: implementations."""
    total = sum(by_kind.values())
    wall = 1e3 * args.batch / result["images_per_s"]
    print(f"\n### {name}: batch {args.batch}, {args.threads} thread(s), {result['runs']} timed runs of {period} "
          f"primitives; {wall:.2f} ms per run (with the log), of which oneDNN primitives {total:.2f} ms, outside "
          f"oneDNN {wall - total:.2f} ms\n")
    print("| primitive | implementation | ms per run | share of primitives |\n|---|---|---|---|")
    for (kind, impl), ms in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {impl} | {ms:.3f} | {100 * ms / total:.1f}% |")
    print(f"\nSlowest {args.top} primitives (ms per run, summed over the executions of the same shape in one run):\n")
    print("| ms | primitive | implementation | problem | memory |\n|---|---|---|---|---|")
    for (kind, impl, memory, problem), ms in sorted(by_primitive.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {ms:.3f} | {kind} | {impl} | `{problem}` | `{memory}` |")
    refs = sorted({f"{kind} {impl}" for kind, impl in by_kind if impl.startswith("ref")})
    print("\nReference (`ref:`) implementations: " + (", ".join(refs) if refs else "none"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="zoo classifier names or .onnx paths")
    parser.add_argument("--bin", default=os.path.join("build", "bin"))
    parser.add_argument("--cache", default=os.path.join("build", "tests", "zoo", "cache"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--input", help="C,H,W of an .onnx path's input (zoo names know theirs)")
    args = parser.parse_args()
    for name in args.models:
        path, item = model_file(name, args)
        report(name, args, *profile(path, item, args))


if __name__ == "__main__":
    main()
