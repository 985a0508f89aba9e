#!/usr/bin/python3
"""fp32 / bf16 / int8 throughput of the bundled Fashion-MNIST model in the Fovea engine, in one script.

fp32 and bf16 run models/fashion-mnist/1 (engine_bench --precision); int8 runs models/fashion-mnist/2, the QDQ model
`fovea-train quantize` wrote from version 1 (engine_bench on a quantized model runs its convolutions as int8). Each
(threads, batch) cell runs the three precisions back to back, `--rounds` times in alternating order, and keeps each
one's best round, so ratios compare runs under the same machine load. Threads: OMP_NUM_THREADS.

usage: /usr/bin/python3 bench/engine/precision.py --engine-bench build/bin/engine_bench [--seconds 2] [--rounds 3]
"""
import argparse
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOAT_MODEL = os.path.join("models", "fashion-mnist", "1", "model.onnx")
INT8_MODEL = os.path.join("models", "fashion-mnist", "2", "model.onnx")
RUNS = [("fp32", FLOAT_MODEL, ["--precision", "fp32"]), ("bf16", FLOAT_MODEL, ["--precision", "bf16"]),
        ("int8", INT8_MODEL, [])]
BATCHES = [1, 64]
THREADS = [1, 2]


def bench(engine_bench, model, extra, batch, threads, seconds):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([engine_bench, os.path.join(ROOT, model), "--batches", str(batch), "--seconds",
                          str(seconds), *extra], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine-bench", required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print("| threads | batch | fp32 img/s | bf16 img/s | int8 img/s | bf16/fp32 | int8/fp32 | fp32 p50 ms | bf16 p50 ms "
          "| int8 p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in THREADS:
        for batch in BATCHES:
            best = {}
            for round_index in range(args.rounds):
                order = RUNS if round_index % 2 == 0 else list(reversed(RUNS))
                for name, model, extra in order:
                    result = bench(args.engine_bench, model, extra, batch, threads, args.seconds)
                    assert result["precision"] == name, result
                    if name not in best or result["images_per_s"] > best[name]["images_per_s"]:
                        best[name] = result
            fp32, bf16, int8 = (best[n]["images_per_s"] for n in ("fp32", "bf16", "int8"))
            print(f"| {threads} | {batch} | {fp32:.0f} | {bf16:.0f} | {int8:.0f} | {bf16 / fp32:.2f}x | "
                  f"{int8 / fp32:.2f}x | {best['fp32']['p50_ms']:.3f} | {best['bf16']['p50_ms']:.3f} | "
                  f"{best['int8']['p50_ms']:.3f} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
