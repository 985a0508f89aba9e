#!/usr/bin/python3
"""Soak test: fovea-server under `fovea bench` load for a while, its RSS, open fds and threads sampled from /proc.

Usage: soak.py --server-binary PATH --cli-binary PATH --models DIR [--duration S] [--warmup S] [--concurrency N]
               [--batch-size N] [--rate R] [--stream] [--json FILE]

Starts fovea-server on a free 127.0.0.1 port and runs `fovea bench` against it (closed loop at --concurrency: the
server runs at its capacity; or --rate R requests/s; --stream sends the requests on ModelStreamInfer streams).
Samples /proc/<pid> once a second. Passes when:
  * bench reports 0 failed requests,
  * RSS at the end is less than 5% above RSS at the end of the warm-up,
  * open file descriptors and threads at the end are no more than their highest value during the warm-up.
Prints one line per 10 samples, then a summary; --json writes the samples and the verdict. Exit 0 on pass.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

RSS_GROWTH_LIMIT = 0.05
SAMPLE_SECONDS = 1.0
STARTUP_TIMEOUT_SECONDS = 60


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sample(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return {"rss_kib": int(fields["VmRSS"][0]), "threads": int(fields["Threads"][0]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def wait_until_serving(cli, address, server):
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"soak: fovea-server exited with {server.returncode} during startup")
        if subprocess.run([cli, "health", "--server", address], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    sys.exit("soak: fovea-server did not become SERVING")


def judge(samples, warmup_seconds, bench_report):
    warm = [s for s in samples if s["t"] <= warmup_seconds] or samples[:1]
    measured = [s for s in samples if s["t"] > warmup_seconds]
    if not measured:
        return ["no samples after the warm-up"], {}
    baseline, end = warm[-1], measured[-1]
    growth = end["rss_kib"] / baseline["rss_kib"] - 1
    figures = {"rss_kib_after_warmup": baseline["rss_kib"], "rss_kib_end": end["rss_kib"],
               "rss_kib_max": max(s["rss_kib"] for s in measured), "rss_growth": growth,
               "fds_warmup_max": max(s["fds"] for s in warm), "fds_end": end["fds"],
               "fds_max": max(s["fds"] for s in measured),
               "threads_warmup_max": max(s["threads"] for s in warm), "threads_end": end["threads"],
               "threads_max": max(s["threads"] for s in measured)}
    failures = []
    failed = bench_report.get("requests", {}).get("failed", -1)
    if failed != 0:
        failures.append(f"bench reported {failed} failed requests: {bench_report.get('errors')}")
    if growth >= RSS_GROWTH_LIMIT:
        failures.append(f"RSS grew {growth:.1%} after the warm-up (limit {RSS_GROWTH_LIMIT:.0%})")
    if end["fds"] > figures["fds_warmup_max"]:
        failures.append(f"open fds grew from {figures['fds_warmup_max']} to {end['fds']}")
    if end["threads"] > figures["threads_warmup_max"]:
        failures.append(f"threads grew from {figures['threads_warmup_max']} to {end['threads']}")
    return failures, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-binary", required=True)
    parser.add_argument("--cli-binary", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0)
    parser.add_argument("--stream", action="store_true",
                        help="fovea bench --stream: the requests on ModelStreamInfer streams")
    parser.add_argument("--json")
    args = parser.parse_args()

    address = f"127.0.0.1:{free_port()}"
    workdir = tempfile.mkdtemp(prefix="fovea-soak-")
    server_log = open(os.path.join(workdir, "server.log"), "w")
    # Warnings only: a log line per request would make the soak measure the log file.
    server = subprocess.Popen([args.server_binary, "--address", address, "--model-repository", args.models,
                               "--log-level", "warn", "--http-port", "0", "--metrics-port", "0"],
                              stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(args.cli_binary, address, server)
        bench_json = os.path.join(workdir, "bench.json")
        bench_cmd = [args.cli_binary, "bench", "--server", address, "--concurrency", str(args.concurrency),
                     "--batch-size", str(args.batch_size), "--warmup", str(args.warmup),
                     "--duration", str(args.duration), "--json", bench_json]
        if args.rate > 0:
            bench_cmd += ["--rate", str(args.rate)]
        if args.stream:
            bench_cmd.append("--stream")
        start = time.monotonic()
        bench = subprocess.Popen(bench_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        samples = []
        while bench.poll() is None:
            entry = sample(server.pid)
            entry["t"] = round(time.monotonic() - start, 1)
            samples.append(entry)
            if len(samples) % 10 == 0:
                print(f"t={entry['t']:7.1f}s rss={entry['rss_kib']} KiB fds={entry['fds']} "
                      f"threads={entry['threads']}", flush=True)
            time.sleep(SAMPLE_SECONDS)
        bench_output = bench.stdout.read()
        print(bench_output, end="")
        with open(bench_json) as f:
            report = json.load(f)
        if server.poll() is not None:
            sys.exit(f"soak: fovea-server died with {server.returncode}")
        failures, figures = judge(samples, args.warmup, report)
    finally:
        server.terminate()
        server.wait(timeout=60)
        server_log.close()
    verdict = "PASS" if not failures else "FAIL"
    print(f"soak {verdict}: {args.duration:.0f} s after {args.warmup:.0f} s warm-up, "
          f"{report['requests']['ok']} requests ({report['throughput']['requests_per_second']:.1f}/s), "
          f"p99 {report['latency_ms']['p99']:.2f} ms; RSS {figures.get('rss_kib_after_warmup')} -> "
          f"{figures.get('rss_kib_end')} KiB ({figures.get('rss_growth', 0):+.2%}), fds "
          f"{figures.get('fds_warmup_max')} -> {figures.get('fds_end')}, threads "
          f"{figures.get('threads_warmup_max')} -> {figures.get('threads_end')}")
    for failure in failures:
        print("  " + failure)
    if server.returncode not in (0, None):
        print(f"  fovea-server exited with {server.returncode} on SIGTERM")
        failures.append("bad exit")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"verdict": verdict, "failures": failures, "figures": figures, "bench": report,
                       "samples": samples}, f, indent=1)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
