"""ONNX Runtime as a peer of the Python bench drivers (bench/compare/run.py, bench/zoo/run.py): timing through
ort_bench.js, and the check that ORT and Fovea compute the same outputs on the same input before anything is timed.

Fovea's outputs come from onnx_run through the zoo test's own runner (tests/zoo/zoo.py, run_engine), and agreement is
the zoo's measure, max |fovea - ort| / max |ort|, against the zoo's limit.
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
import zoo  # noqa: E402 (tests/zoo)

NAME = "ONNX Runtime"
SCRIPT = os.path.join(HERE, "ort_bench.js")
PACKAGE = os.path.join(HERE, "node_modules", "onnxruntime-node")
MAX_RELATIVE_DIFF = zoo.MAX_RELATIVE_DIFF
FAILURE_LINES = 3  # of a failing tool's stderr, enough for the error without its whole log


def require_installed():
    """Stops with the install command when the peer is missing, before any Fovea run is spent."""
    if not os.path.isdir(PACKAGE):
        raise SystemExit(f"{NAME} is not installed: run bench/peers/install.sh")


def failure(tool, error):
    """The last lines of a failed subprocess's stderr as one line, for a table cell or an exception."""
    lines = (error.stderr or "").strip().splitlines()[-FAILURE_LINES:]
    return f"{tool} exited {error.returncode}: " + " / ".join(lines)


def node(args):
    """ort_bench.js's one JSON line; RuntimeError with its stderr when it fails."""
    try:
        out = subprocess.run(["node", SCRIPT, *args], capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError as error:
        raise RuntimeError(failure("ort_bench.js", error)) from None
    return json.loads(out.strip().splitlines()[-1])


def measure(model, shape, threads, seconds):
    """ORT's images/s, p50/p99 ms and runs on a random float32 input of `shape` (batch first), `threads` intra-op
    threads, as engine_bench reports Fovea's."""
    return node([model, "--shape", ",".join(map(str, shape)), "--threads", str(threads), "--seconds", str(seconds)])


def ort_output(model, x, workdir):
    """ORT's first output for the float32 array `x`."""
    raw, out = os.path.join(workdir, "ort_in.bin"), os.path.join(workdir, "ort_out.bin")
    np.ascontiguousarray(x, np.float32).tofile(raw)
    dims = node([model, "--shape", ",".join(map(str, x.shape)), "--input-file", raw, "--output-file", out])["dims"]
    return np.fromfile(out, np.float32).reshape(dims)


def fovea_output(onnx_run, model, x, workdir):
    """Fovea's first output for `x`, through onnx_run as the zoo test runs it."""
    path = os.path.join(workdir, "fovea_in.npy")
    np.save(path, np.asarray(x, np.float32))
    return zoo.run_engine(onnx_run, model, path, workdir)


def agreement(onnx_run, model, x, workdir):
    """max |Fovea - ORT| / max |ORT| on input `x`; RuntimeError when either fails or the shapes differ."""
    reference = ort_output(model, x, workdir)
    got = fovea_output(onnx_run, model, x, workdir)
    if got.shape != reference.shape:
        raise RuntimeError(f"output shapes differ: Fovea {list(got.shape)}, {NAME} {list(reference.shape)}")
    return zoo.relative_difference(got, reference)
