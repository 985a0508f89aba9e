#!/usr/bin/python3
"""Fovea against ONNX Runtime on every torchvision classifier of the zoo test (issue 22): the same ONNX files (the
zoo's exports, random weights, opset 13), fp32, at each --batches size and --threads count.

Before timing, each model runs once in both on the zoo's own batch-1 input (onnx_run for Fovea, ort_bench.js for
ORT), and the outputs must agree within the zoo's tolerance. A model that does not export, load, run or agree is a
row with its error, never a skip. Then every (model, threads, batch) cell runs engine_bench (OMP_NUM_THREADS=threads,
--input 3,side,side) and ort_bench.js (intraOpNumThreads=threads) back to back; the shared machine's speed drifts
within a minute, so the ratio Fovea/ORT images/s is taken within each cell of each round, and --rounds repeats the
whole sweep. The table gives the median ratio with its min–max over rounds, and the geometric mean of the medians per
(threads, batch) column; a second table gives the median images/s of both.

Needs bench/peers/install.sh (ONNX Runtime), build/bin/engine_bench and build/bin/onnx_run. Progress on stderr.

usage: /usr/bin/python3 bench/zoo/run.py [--bin build/bin] [--cache build/tests/zoo/cache] [--models a,b]
           [--batches 1,8] [--threads 1,2] [--seconds 3] [--rounds 3] [--json FILE]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(BENCH, "peers"))
sys.path.insert(0, os.path.join(BENCH, "compare"))
import ort_peer  # noqa: E402 (bench/peers; puts tests/zoo on the path too)
import peers  # noqa: E402 (bench/compare)
import zoo  # noqa: E402 (tests/zoo)

engine_run = peers.load_bench_script("engine")
CHANNELS = 3
PRECISION = "fp32"


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_list(text, kind=int):
    return [kind(v) for v in text.split(",") if v]


def prepare(name, args, workdir):
    """{'onnx', 'side', 'agreement'} of one model, or {'error'}: the zoo's export (made if missing) and the check
    that Fovea and ORT agree on its batch-1 input."""
    side = zoo.classifier_sides()[name]
    try:
        onnx_path, inputs, _ = zoo.export(name, zoo.DEFAULT_OPSET, args.cache)
        x = np.load(inputs[(1, None)])
        diff = ort_peer.agreement(os.path.join(args.bin, "onnx_run"), onnx_path, x, workdir)
    except Exception as error:  # noqa: BLE001 -- any failure to export, load or run is this model's row
        return {"error": str(error).replace("\n", " / ")}
    if diff > ort_peer.MAX_RELATIVE_DIFF:
        return {"error": f"Fovea and ORT disagree: max relative difference {diff:.2e} "
                         f"(limit {ort_peer.MAX_RELATIVE_DIFF:.0e})"}
    return {"onnx": onnx_path, "side": side, "agreement": diff}


def fovea_cell(args, model, threads, batch):
    """engine_bench's JSON for one cell, or {'error'}."""
    try:
        rows = engine_run.run_fovea(os.path.join(args.bin, "engine_bench"), model["onnx"], threads, args.seconds,
                                    [batch], ["--input", f"{CHANNELS},{model['side']},{model['side']}"])
    except subprocess.CalledProcessError as error:
        return {"error": ort_peer.failure("engine_bench", error)}
    if batch not in rows:  # engine_bench reports a failed run on stderr and prints no line for that batch
        return {"error": "engine_bench printed no result (the run failed)"}
    return rows[batch]


def ort_cell(args, model, threads, batch):
    """ort_bench.js's JSON for one cell, or {'error'}."""
    try:
        return ort_peer.measure(model["onnx"], [batch, CHANNELS, model["side"], model["side"]], threads, args.seconds)
    except RuntimeError as error:
        return {"error": str(error)}


def measure_round(args, models, round_index):
    """{(name, threads, batch): {'fovea', 'ort'}} for one sweep; Fovea then ORT for each cell."""
    cells = {}
    for name, model in models.items():
        if "error" in model:
            continue
        for threads in args.thread_list:
            for batch in args.batch_list:
                started = time.monotonic()
                fovea, ort = fovea_cell(args, model, threads, batch), ort_cell(args, model, threads, batch)
                cells[(name, threads, batch)] = {"fovea": fovea, "ort": ort}
                shown = " / ".join(f"{r['images_per_s']:.1f}" if "error" not in r else "error" for r in (fovea, ort))
                log(f"round {round_index + 1}/{args.rounds} {name} threads {threads} batch {batch}: "
                    f"Fovea / ORT img/s {shown} ({time.monotonic() - started:.0f} s)")
    return cells


def summarize(rounds, key):
    """Median ratio, its min and max over rounds, and median images/s of both for one cell; {'error'} when a run
    failed in any round (the first error, Fovea's before ORT's)."""
    samples = [r[key] for r in rounds]
    for sample in samples:
        for runner in ("fovea", "ort"):
            if "error" in sample[runner]:
                return {"error": f"{'Fovea' if runner == 'fovea' else 'ORT'}: {sample[runner]['error']}"}
    ratios = [s["fovea"]["images_per_s"] / s["ort"]["images_per_s"] for s in samples]
    return {"ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "fovea_ips": statistics.median(s["fovea"]["images_per_s"] for s in samples),
            "ort_ips": statistics.median(s["ort"]["images_per_s"] for s in samples),
            "fovea_p50": statistics.median(s["fovea"]["p50_ms"] for s in samples),
            "ort_p50": statistics.median(s["ort"]["p50_ms"] for s in samples)}


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def markdown_row(cells):
    return "| " + " | ".join(cells) + " |"


def ratio_cell(name, column, summary, errors):
    """'1.19× (1.10–1.25)' for one cell, or **error** (and its message appended to `errors`)."""
    s = summary[(name, *column)]
    if "error" in s:
        errors.append(f"{name} threads {column[0]} batch {column[1]}: {s['error']}")
        return "**error**"
    return f"{s['ratio']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"


def speed_cell(s):
    if "error" in s:
        return "—"
    return f"{s['fovea_ips']:.1f} / {s['ort_ips']:.1f} ({s['fovea_p50']:.1f} / {s['ort_p50']:.1f})"


def print_tables(models, summary, columns):
    """The ratio table (with geometric means over the models timed in each column), the images/s table and the
    errors, Markdown, on stdout."""
    titles = [f"{t} thr, batch {b}" for t, b in columns]
    print(markdown_row(["model", "side", "Fovea vs ORT max rel. diff", *titles]))
    print(markdown_row(["---"] * (3 + len(columns))))
    errors = []
    for name, model in models.items():
        if "error" in model:
            print(markdown_row([name, "", "**error**", *["—"] * len(columns)]))
            errors.append(f"{name}: {model['error']}")
        else:
            cells = [ratio_cell(name, c, summary, errors) for c in columns]
            print(markdown_row([name, str(model["side"]), f"{model['agreement']:.1e}", *cells]))
    if columns:
        ratios = [[s["ratio"] for (_, t, b), s in summary.items() if (t, b) == c and "ratio" in s] for c in columns]
        print(markdown_row(["**geometric mean** (models)", "", "",
                            *[f"**{geometric_mean(r):.2f}×** ({len(r)})" if r else "—" for r in ratios]]))
        print("\nMedian images/s, Fovea / ORT (p50 ms, Fovea / ORT):\n")
        print(markdown_row(["model", *titles]) + "\n" + markdown_row(["---"] * (1 + len(columns))))
        for name, model in models.items():
            if "error" not in model:
                print(markdown_row([name, *[speed_cell(summary[(name, *c)]) for c in columns]]))
    if errors:
        print("\nErrors:\n\n" + "\n".join(f"- {e}" for e in errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join("build", "bin"), help="folder with engine_bench and onnx_run")
    parser.add_argument("--cache", default=os.path.join("build", "tests", "zoo", "cache"),
                        help="the zoo test's export cache; missing exports are made there")
    parser.add_argument("--models", help="comma-separated subset of the zoo's classifiers (default: all)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="0: only check that Fovea and ORT agree")
    parser.add_argument("--json", help="also write every round's raw results and the summary to this file")
    args = parser.parse_args()
    args.batch_list, args.thread_list = parse_list(args.batches), parse_list(args.threads)
    names = parse_list(args.models, str) if args.models else list(zoo.classifier_sides())
    unknown = [n for n in names if n not in zoo.classifier_sides()]
    if unknown:
        parser.error(f"unknown models {unknown}; the zoo's classifiers: {', '.join(zoo.classifier_sides())}")
    ort_peer.require_installed()
    os.makedirs(args.cache, exist_ok=True)
    torch.set_num_threads(1)  # exports only; the timed runs are other processes
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as workdir:
        models = {}
        for name in names:
            models[name] = prepare(name, args, workdir)
            model = models[name]
            agrees = "error" not in model and f"Fovea and ORT agree ({model['agreement']:.1e})"
            log(f"{name}: {agrees or model['error']}")
    rounds = [measure_round(args, models, i) for i in range(args.rounds)]
    # --rounds 0 only checks that every model loads and agrees with ORT: a table without timed columns.
    columns = [(t, b) for t in args.thread_list for b in args.batch_list] if rounds else []
    summary = {key: summarize(rounds, key) for key in rounds[0]} if rounds else {}
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"\n### Zoo, {PRECISION}: Fovea images/s ÷ ONNX Runtime images/s, median (min–max) over {args.rounds} "
          f"round(s) of {args.seconds:g} s per cell; ratios within each round\n")
    print_tables(models, summary, columns)
    log(f"done in {time.monotonic() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"models": models, "rounds": [{"|".join(map(str, k)): v for k, v in r.items()} for r in rounds],
                       "summary": {"|".join(map(str, k)): v for k, v in summary.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
