#!/usr/bin/python3
"""Dynamic batching: throughput of 32 concurrent batch-1 clients vs the engine's offline batch-64 throughput, single
client p50 latency with and without batching, the batch sizes the batcher formed, and the pure serving overhead on a
no-op model.

Starts three fovea-server processes on free 127.0.0.1 ports: "batching" (the given batching flags), "no batching"
(--max-batch-size 1) and "no-op" (a generated ONNX model that only flattens a 1x2x2 input into 4 scores, so the
engine does next to nothing). Engine and server measurements alternate in rounds, because the machine is shared and
its speed drifts: each round's engine figures are the mean of runs just before and just after the loaded server's, and
the ratios of each round are reported with their median.

--server-cpus and --client-cpus (e.g. 1 and 0) split the machine as a deployment does: the servers and the offline
engine run on the server CPUs only, the load-generating clients on the others, so the clients' CPU is not taken from
the engine's. Without them everything shares all cores.

usage: /usr/bin/python3 bench/batching/run.py --bin build/bin [--models models] [--model fashion-mnist]
           [--rounds 3] [--seconds 3] [--instances CORES] [--compute-threads 1] [--max-queue-delay-us 0]
           [--client-mode sync|async] [--cost-requests 50000] [--server-cpus 1 --client-cpus 0]
           [--torchvision resnet18] [--rpc classify|model-infer|model-stream-infer]

--rpc picks what every client call is: fovea.v1 Classify (the default), the Open Inference Protocol's ModelInfer, or
a request on a ModelStreamInfer stream (one stream per client, one request in flight on each).

--torchvision NAME serves torchvision's NAME (random weights, exported to ONNX with Debian's python3-torch) from a
temporary repository instead of --models/--model, with a 3x224x224 input: a model whose compute per image is ~70
times the bundled one's, against the same per-call serving cost.
"""
import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid):
    """user + system CPU time of a running process, from /proc (fields 14 and 15, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_cpus(text):
    """'0-1,3' -> {0, 1, 3}; None for None."""
    if text is None:
        return None
    cpus = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def pinned_to(cpus):
    """A Popen preexec_fn that restricts the child to `cpus` (None: no restriction)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_lines(text):
    return [json.loads(line) for line in text.strip().splitlines() if line.startswith("{")]


def export_torchvision(name, path):
    """torchvision.models.NAME with random weights, exported to ONNX (dynamic batch) at `path`."""
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                      output_names=["scores"], dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}})


def write_noop_model(path):
    """An Identity-like classifier: Flatten of a [N, 1, 2, 2] input into [N, 4] scores, no weights."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["scores"], axis=1)], "noop",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 2, 2])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


class Server:
    """fovea-server on a free 127.0.0.1 port, healthy when constructed; `metrics` False passes --metrics-port 0."""

    def __init__(self, tool, models, extra, metrics=True, cpus=None):
        self.address = f"127.0.0.1:{free_port()}"
        self.metrics_port = free_port() if metrics else 0
        self.process = subprocess.Popen([tool("fovea-server"), "--address", self.address, "--model-repository", models,
                                         "--log-level", "warn", "--metrics-port", str(self.metrics_port), "--http-port", "0"] + extra,
                                        preexec_fn=pinned_to(cpus))
        deadline = time.time() + 60
        while subprocess.run([tool("fovea"), "health", "--server", self.address], capture_output=True).returncode:
            if time.time() > deadline:
                raise SystemExit("server did not become healthy")
            time.sleep(0.2)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as response:
            return response.read().decode()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def batch_histogram(text, model):
    """le → cumulative count of fovea_batch_size for `model`."""
    pattern = r'fovea_batch_size_bucket\{model="' + re.escape(model) + r'",le="([^"]+)"\} (\S+)'
    return {le: float(count) for le, count in re.findall(pattern, text)}


CLIENT_MODE = "sync"  # classify_bench --mode for every run; set from --client-mode
CLIENT_RPC = "classify"  # classify_bench --rpc of the measured runs; set from --rpc
CLIENT_CPUS = None  # the CPUs classify_bench runs on (None: all); set from --client-cpus


def classify_bench(tool, server, model, input_shape, concurrency, seconds):
    out = subprocess.run([tool("classify_bench"), "--server", server.address, "--model", model, "--input",
                          input_shape, "--concurrency", str(concurrency), "--seconds", str(seconds), "--mode",
                          CLIENT_MODE, "--rpc", CLIENT_RPC], capture_output=True, text=True, check=True,
                         preexec_fn=pinned_to(CLIENT_CPUS)).stdout
    lines = json_lines(out)
    return lines[0], lines[1]  # ListModels round trip, Classify


def cost_per_call(tool, server, model, input_shape, rpc, concurrency, requests):
    """Server and client CPU microseconds per call of `rpc` (classify or server-live) at `concurrency`."""
    server_before = process_cpu_seconds(server.process.pid)
    out = subprocess.run([tool("classify_bench"), "--server", server.address, "--model", model, "--input",
                          input_shape, "--concurrency", str(concurrency), "--requests", str(requests), "--mode",
                          CLIENT_MODE, "--rpc", rpc, "--round-trips", "0"],
                         capture_output=True, text=True, check=True, preexec_fn=pinned_to(CLIENT_CPUS)).stdout
    server_cpu = process_cpu_seconds(server.process.pid) - server_before
    result = json_lines(out)[0]
    # The server's CPU also covers classify_bench's 20 warm-up Classify calls: noise against `requests`.
    return {"requests_per_s": result["requests_per_s"], "server_us": 1e6 * server_cpu / result["requests"],
            "client_us": 1e6 * result["client_cpu_s"] / result["requests"]}


def classify_bench_cpu(tool, server, model, input_shape, concurrency, seconds):
    """Classify at `concurrency`, plus the server's requests per CPU-second it used (the engine and the serving)."""
    server_before = process_cpu_seconds(server.process.pid)
    _, result = classify_bench(tool, server, model, input_shape, concurrency, seconds)
    # classify_bench's own warm-up and ListModels calls also cost server CPU; count them against the server.
    result["requests_per_server_cpu_s"] = result["requests"] / (process_cpu_seconds(server.process.pid) - server_before)
    return result


ENGINE_WARMUP_RUNS = 3  # engine_bench runs this many untimed batches first


def engine_bench(tool, model_file, batch, seconds, threads, input_shape, processes=1, short=None, cpus=None):
    """Offline throughput: `processes` engine_bench runs at once with `threads` oneDNN threads each, summed, on
    `cpus`. Images per CPU-second are marginal against `short` (the same command with a near-zero duration), so that
    loading and plan compilation do not count."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cpu_before = children_cpu_seconds()
    runs = [subprocess.Popen([tool("engine_bench"), model_file, "--batches", str(batch), "--seconds", str(seconds),
                              "--input", input_shape], stdout=subprocess.PIPE, text=True, env=env,
                             preexec_fn=pinned_to(cpus))
            for _ in range(processes)]
    results = [json_lines(run.communicate()[0])[0] for run in runs]
    images = sum((r["runs"] + ENGINE_WARMUP_RUNS) * batch for r in results)
    cpu = children_cpu_seconds() - cpu_before
    result = {"images_per_s": sum(r["images_per_s"] for r in results), "images": images / processes,
              "cpu_s": cpu / processes}
    if short is not None:
        marginal_images = images - short["images"] * processes
        marginal_cpu = cpu - short["cpu_s"] * processes
        # A model slow enough that the short command already runs engine_bench's minimum of timed runs leaves no
        # margin: then count the whole run.
        result["images_per_cpu_s"] = (marginal_images / marginal_cpu if marginal_images > 0 and marginal_cpu > 0
                                      else images / cpu)
    return result


def averaged(first, second):
    """The mean of two engine_bench results (throughput and, when present, images per CPU-second)."""
    return {key: (first[key] + second[key]) / 2 for key in first if key in second}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="folder with fovea-server, fovea, classify_bench, engine_bench")
    parser.add_argument("--models", default="models")
    parser.add_argument("--model", default="fashion-mnist")
    parser.add_argument("--version", type=int, default=1, help="model version run by the engine and the servers")
    parser.add_argument("--input", default="1,28,28")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--instances", type=int, help="batcher instances (default: one per server CPU)")
    parser.add_argument("--compute-threads", type=int, default=1)
    parser.add_argument("--max-queue-delay-us", type=int, default=0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--cost-requests", type=int, default=50000,
                        help="calls per CPU-cost measurement on the no-op model")
    parser.add_argument("--client-mode", choices=["sync", "async"], default="sync",
                        help="classify_bench --mode: a thread per client (sync) or calls in flight (async)")
    parser.add_argument("--server-cpus", help="CPUs of the servers and the offline engine, e.g. 1 (default: all)")
    parser.add_argument("--client-cpus", help="CPUs of the clients, e.g. 0 (default: all)")
    parser.add_argument("--torchvision", help="serve this torchvision model (e.g. resnet18) instead of --model")
    parser.add_argument("--rpc", choices=["classify", "model-infer", "model-stream-infer"], default="classify",
                        help="what the clients call (classify_bench --rpc)")
    args = parser.parse_args()
    if args.torchvision:
        with tempfile.TemporaryDirectory() as repository:
            export_torchvision(args.torchvision, os.path.join(repository, args.torchvision, "1", "model.onnx"))
            args.models, args.model, args.version, args.input = repository, args.torchvision, 1, "3,224,224"
            measure(args)
    else:
        measure(args)


def measure(args):
    global CLIENT_MODE, CLIENT_CPUS, CLIENT_RPC
    CLIENT_MODE = args.client_mode
    CLIENT_RPC = args.rpc
    CLIENT_CPUS = parse_cpus(args.client_cpus)
    server_cpus = parse_cpus(args.server_cpus)
    cores = len(server_cpus) if server_cpus else os.cpu_count()
    if args.instances is None:
        args.instances = cores
    tool = lambda name: os.path.join(args.bin, name)
    model_file = os.path.join(args.models, args.model, str(args.version), "model.onnx")
    engine_threads = args.instances * args.compute_threads
    common = ["--instances", str(args.instances), "--compute-threads", str(args.compute_threads), "--version-policy",
              f"specific:{args.version}"]
    batching = Server(tool, args.models, common + ["--max-batch-size", "64", "--max-queue-delay-us",
                                                   str(args.max_queue_delay_us)], cpus=server_cpus)
    unbatched = Server(tool, args.models, common + ["--max-batch-size", "1"], cpus=server_cpus)
    print(f"batching server: max batch 64, queue delay {args.max_queue_delay_us} us, {args.instances} instance(s) x "
          f"{args.compute_threads} compute thread(s); engine alone with {engine_threads} thread(s); clients call "
          f"{CLIENT_RPC} ({CLIENT_MODE})")
    if server_cpus or CLIENT_CPUS:
        print(f"servers and engine on CPUs {sorted(server_cpus or [])}, clients on CPUs {sorted(CLIENT_CPUS or [])}")
    rows = []
    histogram = {}
    # What an engine_bench process costs besides its timed runs: the same command with a near-zero duration.
    short = {threads: engine_bench(tool, model_file, 64, 0.001, threads, args.input, cpus=server_cpus) for threads in
             {cores, args.compute_threads}}
    try:
        # Warm-up: the batcher compiles an engine plan the first time it sees each batch size.
        classify_bench(tool, batching, args.model, args.input, args.clients, 2)
        # The engine's best offline arrangement on this machine (all cores in one process) and the server's own
        # arrangement (one process per instance, each with the instance's threads).
        run_best = lambda: engine_bench(tool, model_file, 64, args.seconds, cores, args.input, 1, short[cores],
                                        server_cpus)
        run_same = lambda: engine_bench(tool, model_file, 64, args.seconds, args.compute_threads, args.input,
                                        args.instances, short[args.compute_threads], server_cpus)
        for round_index in range(args.rounds):
            # The engine runs just before and just after the loaded server, in mirrored order, and the two are
            # averaged: the machine's speed drifts by tens of percent within a minute, and a single engine run on one
            # side of the server's would carry that drift into the ratio.
            best_before, same_before = run_best(), run_same()
            before = batch_histogram(batching.metrics(), args.model)
            loaded = classify_bench_cpu(tool, batching, args.model, args.input, args.clients, args.seconds)
            after = batch_histogram(batching.metrics(), args.model)
            same_after, best_after = run_same(), run_best()
            engine, engine_same = averaged(best_before, best_after), averaged(same_before, same_after)
            for le, count in after.items():
                histogram[le] = histogram.get(le, 0) + count - before.get(le, 0)
            _, single = classify_bench(tool, batching, args.model, args.input, 1, args.seconds)
            _, single_unbatched = classify_bench(tool, unbatched, args.model, args.input, 1, args.seconds)
            rows.append((engine, engine_same, loaded, single, single_unbatched))
    finally:
        batching.stop()
        unbatched.stop()

    print(f"\n| round | engine batch-64 img/s, {cores} threads | engine batch-64 img/s, {args.instances} x "
          f"{args.compute_threads} thread(s) | server {args.clients} clients req/s | ratio to best | ratio to same | "
          "errors | p50 1 client, batching (ms) | p50 1 client, no batching (ms) | difference (us) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios, same_ratios, differences = [], [], []
    for i, (engine, engine_same, loaded, single, single_unbatched) in enumerate(rows):
        ratio = loaded["requests_per_s"] / engine["images_per_s"]
        same_ratio = loaded["requests_per_s"] / engine_same["images_per_s"]
        difference = (single["p50_ms"] - single_unbatched["p50_ms"]) * 1000
        ratios.append(ratio)
        same_ratios.append(same_ratio)
        differences.append(difference)
        print(f"| {i + 1} | {engine['images_per_s']:.0f} | {engine_same['images_per_s']:.0f} | "
              f"{loaded['requests_per_s']:.0f} | {ratio:.2f} | {same_ratio:.2f} | {loaded['errors']} | "
              f"{single['p50_ms']:.3f} | {single_unbatched['p50_ms']:.3f} | {difference:.0f} |")
    print("\nCPU efficiency (robust on a shared machine, where wall-clock shares depend on thread counts):")
    print("| round | engine best: images per CPU-s | engine same: images per CPU-s | server: requests per server "
          "CPU-s | ratio to best | ratio to same |")
    print("|---|---|---|---|---|---|")
    efficiency, same_efficiency = [], []
    for i, (engine, engine_same, loaded, _, _) in enumerate(rows):
        efficiency.append(loaded["requests_per_server_cpu_s"] / engine["images_per_cpu_s"])
        same_efficiency.append(loaded["requests_per_server_cpu_s"] / engine_same["images_per_cpu_s"])
        print(f"| {i + 1} | {engine['images_per_cpu_s']:.0f} | {engine_same['images_per_cpu_s']:.0f} | "
              f"{loaded['requests_per_server_cpu_s']:.0f} | {efficiency[-1]:.2f} | {same_efficiency[-1]:.2f} |")
    print(f"median CPU-efficiency ratio {statistics.median(efficiency):.2f} to the best engine arrangement, "
          f"{statistics.median(same_efficiency):.2f} to the same arrangement (target >= 0.85)")
    print(f"\nmedian throughput ratio {statistics.median(ratios):.2f} to the best engine arrangement, "
          f"{statistics.median(same_ratios):.2f} to the same arrangement (target >= 0.85); median single-client p50 "
          f"difference {statistics.median(differences):.0f} us (allowed: queue delay {args.max_queue_delay_us} us)")
    print("\nbatch sizes formed during the loaded runs (images per engine run):")
    previous = 0
    for le in sorted(histogram, key=lambda v: float("inf") if v == "+Inf" else float(v)):
        print(f"  <= {le}: {histogram[le] - previous:.0f}")
        previous = histogram[le]

    with tempfile.TemporaryDirectory() as repository:
        write_noop_model(os.path.join(repository, "noop", "1", "model.onnx"))
        for label, extra in (("batching", []), ("no batching", ["--max-batch-size", "1"])):
            noop = Server(tool, repository, common + extra, cpus=server_cpus)
            try:
                round_trip, result = classify_bench(tool, noop, "noop", "1,2,2", 1, args.seconds)
                if not extra:
                    costs = {rpc: cost_per_call(tool, noop, "noop", "1,2,2", rpc, args.clients, args.cost_requests)
                             for rpc in dict.fromkeys(("server-live", "classify", CLIENT_RPC))}
            finally:
                noop.stop()
            print(f"\nno-op model, 1 client, {label}: {CLIENT_RPC} p50 {result['p50_ms'] * 1000:.0f} us, p99 "
                  f"{result['p99_ms'] * 1000:.0f} us ({result['requests_per_s']:.0f} req/s); gRPC floor (ListModels) "
                  f"p50 {round_trip['p50_ms'] * 1000:.0f} us, p99 {round_trip['p99_ms'] * 1000:.0f} us")
    print_serving_cap(costs, rows, args)


def print_serving_cap(costs, rows, args):
    """What the clients and the serving cost in CPU per call, and the throughput ratio that leaves at most.

    With the clients on the same cores as the server, each request costs the engine's CPU per image plus the
    serving's and the client's CPU per call, so the server's throughput can reach at most engine / (engine + serving
    + client) of the engine's offline throughput; with the clients on CPUs of their own (--client-cpus), engine /
    (engine + serving). ServerLive (answered at once) gives gRPC's own floor; Classify on the no-op model gives
    Fovea's serving path."""
    clients_share_cores = CLIENT_CPUS is None
    engine_us = statistics.median(1e6 / max(engine["images_per_cpu_s"], same["images_per_cpu_s"])
                                  for engine, same, _, _, _ in rows)
    print(f"\nCPU per call at {args.clients} clients ({CLIENT_MODE} client), no-op model server; engine "
          f"{engine_us:.0f} us per image (the more efficient engine arrangement, median of rounds):")
    formula = "engine / (engine + server + client)" if clients_share_cores else "engine / (engine + server)"
    print(f"| call | req/s | server us/call | client us/call | most a server could reach: {formula} |")
    print("|---|---|---|---|---|")
    labels = {"server-live": "ServerLive (gRPC floor)", "classify": "Classify, no-op model",
              "model-infer": "ModelInfer, no-op model", "model-stream-infer": "ModelStreamInfer, no-op model"}
    for rpc, c in costs.items():
        label = labels[rpc]
        cap = engine_us / (engine_us + c["server_us"] + (c["client_us"] if clients_share_cores else 0))
        print(f"| {label} | {c['requests_per_s']:.0f} | {c['server_us']:.1f} | {c['client_us']:.1f} | {cap:.2f} |")


if __name__ == "__main__":
    main()
