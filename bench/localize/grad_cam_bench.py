#!/usr/bin/python3
"""Grad-CAM latency per zoo model: Fovea's engine (bench/localize/grad_cam_bench.cc) against PyTorch autograd on the
same weights, image, class and layer, at the same thread count; rounds alternate between the two and the ratio is taken
within each round (medians reported), so the shared machine's drift hits both.

One Grad-CAM map is what a Localize request with method GRAD_CAM computes for one class: a forward pass that keeps the
target layer's output, the gradient of the class logit back to it, and sum_k mean(dy/dA_k) * A_k. The PyTorch side is
the cheapest autograd formulation: weights and image need no gradient, and a forward hook on the target module
returns its output as a fresh leaf that requires one, so autograd records and differentiates only the nodes from that
layer to the logits (as the engine does). The module is found by value: the one whose output equals the engine's
target tensor, so both explain the same layer; both maps are compared (max relative difference), so a speed-up never
hides a different answer.

The models are the zoo's (tests/zoo/zoo.py: torchvision, random weights, the zoo's export cache).

usage: bench/localize/grad_cam_bench.py --bench build/bin/grad_cam_bench [--cache build/tests/zoo/cache]
                                        [--threads 1,2] [--rounds 5] [--repeats 5] [MODEL...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before torch starts its OpenMP runtime: no spinning waiters

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "zoo"))
import zoo  # noqa: E402

CLASSIFIERS = [
    "resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2", "mobilenet_v3_small",
    "mobilenet_v3_large", "efficientnet_b0", "efficientnet_b3", "efficientnet_v2_s", "densenet121",
    "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet", "inception_v3", "mnasnet1_0", "regnet_y_400mf",
    "regnet_x_1_6gf", "convnext_tiny", "vgg11_bn", "alexnet",
]
INPUT_SEED = 4321
SAME_VALUE = 1e-4  # max relative difference for "the same tensor" and "the same map"


def relative(got, expected):
    return float(np.max(np.abs(got - expected)) / max(float(np.max(np.abs(expected))), 1e-12))


def find_module(model, x, feature):
    """The name of the first module (in named_modules order) called once per forward whose output is `feature`."""
    outputs, calls, handles = {}, {}, []
    for name, module in model.named_modules():
        def keep(m, i, out, name=name):
            calls[name] = calls.get(name, 0) + 1
            if isinstance(out, torch.Tensor) and tuple(out.shape) == feature.shape:
                outputs[name] = out.detach().numpy().copy()
        handles.append(module.register_forward_hook(keep))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    for name, _ in model.named_modules():
        if name and calls.get(name) == 1 and name in outputs and relative(outputs[name], feature) <= SAME_VALUE:
            return name
    return None


class TorchGradCam:
    """Grad-CAM of one module's output in PyTorch: the output becomes a leaf, autograd runs from the logit to it."""

    def __init__(self, model, module_name):
        self.model, self.kept = model, {}

        def as_leaf(m, i, out):
            leaf = out.detach().requires_grad_(True)
            self.kept["feature"] = leaf
            return leaf
        self.handle = model.get_submodule(module_name).register_forward_hook(as_leaf)

    def __call__(self, x, class_index):
        logits = self.model(x)
        feature = self.kept.pop("feature")
        (gradient,) = torch.autograd.grad(logits[0, class_index], feature)
        with torch.no_grad():
            return (gradient.mean(dim=(2, 3), keepdim=True) * feature).sum(dim=1)[0]


def time_torch(grad_cam, x, class_index, repeats):
    wall, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        grad_cam(x, class_index)
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


class EngineBench:
    """The grad_cam_bench process for one model and thread count, kept loaded between rounds."""

    def __init__(self, binary, onnx_path, input_path, shape, class_index, threads, workdir):
        self.map_path, self.feature_path = os.path.join(workdir, "map.f32"), os.path.join(workdir, "feature.f32")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.process = subprocess.Popen(
            [binary, onnx_path, input_path, ",".join(str(d) for d in shape), str(class_index), "--map-out", self.map_path, "--feature-out",
             self.feature_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError(f"grad_cam_bench exited {self.process.returncode} on {onnx_path}")
        self.info = json.loads(line)
        self.map = np.fromfile(self.map_path, dtype=np.float32).reshape(self.info["map"])
        self.feature = np.fromfile(self.feature_path, dtype=np.float32).reshape(self.info["feature"])

    def time(self, repeats):
        self.process.stdin.write(f"{repeats}\n")
        self.process.stdin.flush()
        result = json.loads(self.process.stdout.readline())
        return result["wall_ms"], result["cpu_ms"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def bench_model(name, args, workdir):
    onnx_path, _, _ = zoo.export(name, zoo.DEFAULT_OPSET, args.cache)
    model, size, _ = zoo.build(name)
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False  # an in-place activation would overwrite the hooked output
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(INPUT_SEED))
    input_path = os.path.join(workdir, "input.f32")
    x.numpy().astype(np.float32).tofile(input_path)
    with torch.no_grad():
        class_index = int(torch.argmax(model(x)[0]))
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        engine, torch_grad_cam = EngineBench(args.bench, onnx_path, input_path, x.shape, class_index, threads, workdir), None
        try:
            module_name = find_module(model, x, engine.feature)
            if module_name is None:
                raise RuntimeError(f"no PyTorch module outputs the engine's target {engine.info['target']}")
            torch_grad_cam = TorchGradCam(model, module_name)
            map_difference = relative(engine.map, torch_grad_cam(x, class_index).numpy())
            torch_grad_cam(x, class_index)  # warm
            rounds = []
            for _ in range(args.rounds):
                fovea_wall, fovea_cpu = engine.time(args.repeats)
                torch_wall, torch_cpu = time_torch(torch_grad_cam, x, class_index, args.repeats)
                rounds.append((fovea_wall, fovea_cpu, torch_wall, torch_cpu))
        finally:
            engine.close()
            if torch_grad_cam is not None:
                torch_grad_cam.handle.remove()
        median = lambda i: statistics.median(r[i] for r in rounds)
        row = dict(model=name, threads=threads, size=size, target=engine.info["target"], module=module_name,
                   map=engine.info["map"], map_max_relative_difference=map_difference,
                   fovea_ms=median(0), fovea_cpu_ms=median(1), torch_ms=median(2), torch_cpu_ms=median(3),
                   speedup=statistics.median(r[2] / r[0] for r in rounds),
                   cpu_speedup=statistics.median(r[3] / r[1] for r in rounds))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def print_table(rows):
    print("\n| model | threads | layer (PyTorch module) | map | Fovea ms (CPU ms) | PyTorch ms (CPU ms) | speed-up wall "
          "/ CPU | max rel. map diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['threads']} | `{r['module']}` | {r['map'][0]}×{r['map'][1]} | "
              f"{r['fovea_ms']:.1f} ({r['fovea_cpu_ms']:.1f}) | {r['torch_ms']:.1f} ({r['torch_cpu_ms']:.1f}) | "
              f"**{r['speedup']:.2f}×** / {r['cpu_speedup']:.2f}× | {r['map_max_relative_difference']:.1e} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", required=True, help="path to the grad_cam_bench binary")
    parser.add_argument("--cache", default="build/tests/zoo/cache", help="the zoo's export cache")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="maps per round and side (the median is kept)")
    parser.add_argument("models", nargs="*")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    names = args.models or CLASSIFIERS
    os.makedirs(args.cache, exist_ok=True)
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="grad-cam-bench-") as workdir:
        for name in names:
            try:
                rows += bench_model(name, args, workdir)
            except Exception as error:  # noqa: BLE001 -- report the model and go on with the others
                print(f"FAILED {name}: {error}", flush=True)
                failed.append(name)
    print_table(rows)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
