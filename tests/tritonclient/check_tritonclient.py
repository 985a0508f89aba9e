#!/usr/bin/python3
"""Check a fovea-server binary with NVIDIA's tritonclient (gRPC and HTTP, default options).

Exercises every call the tritonclient examples (src/python/examples) make for the extensions of
issue #25, adapted to Fovea's CNN models where an example hard-codes Triton's "simple" INT32 model,
and runs the unchanged image_client.py / grpc_image_client.py examples against a ResNet-18.

Starts the server twice on free 127.0.0.1 ports: default (poll) mode, then
`--model-control-mode explicit --load-model tiny`. Prints one line per call:
  PASS <proto> <call>            the call did what Triton's would
  FAIL <proto> <call>: <error>   counted in the exit code
  WARN <proto> <call>: <detail>  differs from Triton's wording only; counted with --strict
Exit code: 0 when no FAIL (and no WARN with --strict), 1 otherwise.

Usage: /usr/bin/python3 check_tritonclient.py --server-bin BIN --models DIR [--site DIR]
       [--examples DIR] [--only grpc|http] [--strict] [-v]
The package tree (--site) is assembled by assemble.sh (see README.md in this folder).
"""
import argparse
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import urllib.error
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--server-bin", required=True)
ap.add_argument("--models", required=True, help="model repository with tiny, rgb, broken, resnet18")
ap.add_argument("--site", default=os.path.join(HERE, "site"), help="folder holding the tritonclient package")
ap.add_argument("--examples", default=os.path.join(HERE, "examples"), help="tritonclient's src/python/examples")
ap.add_argument("--shim", default=os.path.join(HERE, "shim"),
                help="folder with a stand-in attrdict module (PyPI-only dependency of image_client.py -i http)")
ap.add_argument("--only", choices=["grpc", "http"], default=None)
ap.add_argument("--strict", action="store_true", help="count WARN lines (Triton's exact error wording) as failures")
ap.add_argument("--server-args", default="--instances 1 --threads 1 --compute-threads 1",
                help="extra flags for every server start (default keeps CPU use low)")
ap.add_argument("--log-dir", default=None, help="where server logs go (default: a temp dir, printed)")
ap.add_argument("-v", "--verbose", action="store_true")
FLAGS = ap.parse_args()

sys.path.insert(0, FLAGS.site)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
import tritonclient.grpc as grpcclient  # noqa: E402
import tritonclient.http as httpclient  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

RESULTS = []  # (status, proto, name, detail)


def record(status, proto, name, detail=""):
    RESULTS.append((status, proto, name, detail))
    line = f"{status} {proto:4s} {name}"
    if detail and (status != "PASS" or FLAGS.verbose):
        line += ": " + detail.replace("\n", " | ")
    print(line, flush=True)


def check(proto, name, fn, *args, **kw):
    """Runs fn; PASS when it returns (its str result is printed with -v), FAIL with the exception."""
    if FLAGS.only and proto in ("grpc", "http") and FLAGS.only != proto:
        return None
    try:
        out = fn(*args, **kw)
        record("PASS", proto, name, "" if out is None else str(out)[:300])
        return out
    except Warned as w:
        record("WARN", proto, name, str(w))
    except InferenceServerException as e:
        record("FAIL", proto, name, f"InferenceServerException status={e.status()} msg={e.message()!r}")
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {e}"
        if FLAGS.verbose:
            msg += "\n" + traceback.format_exc()
        record("FAIL", proto, name, msg[:1500])
    return None


class Warned(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(fn, *, must_contain=None, triton_text=None, status=None):
    """The call must raise InferenceServerException. must_contain: required substring;
    triton_text: Triton's wording that an example checks (missing -> Warned)."""
    try:
        fn()
    except InferenceServerException as e:
        m = e.message() or ""
        if status is not None and status not in str(e.status()):
            raise AssertionError(f"status {e.status()} (want {status}), msg={m!r}")
        if must_contain and must_contain not in m:
            raise AssertionError(f"message {m!r} lacks {must_contain!r}")
        if triton_text and triton_text not in m:
            raise Warned(f"raised status={e.status()} msg={m!r}; the example checks for Triton's {triton_text!r}")
        return f"raised status={e.status()} msg={m!r}"
    raise AssertionError("no error raised")


# ---------------------------------------------------------------- server
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, tag, extra):
        self.grpc_port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        self.log = os.path.join(LOGDIR, f"server-{tag}.log")
        cmd = [FLAGS.server_bin, "--address", f"127.0.0.1:{self.grpc_port}",
               "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
               "--model-repository", FLAGS.models] + FLAGS.server_args.split() + extra
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        self.http_url = f"127.0.0.1:{self.http_port}"

    def wait_ready(self, models, timeout=180):
        c = grpcclient.InferenceServerClient(self.grpc_url)
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}; see {self.log}")
            try:
                if all(c.is_model_ready(m) for m in models):
                    return time.time() - t0
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.5)
        raise RuntimeError(f"models {models} not ready after {timeout}s; see {self.log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- data
RNG = np.random.default_rng(0)


def make_images(folder):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate([(320, 240), (224, 224), (500, 375)]):
        x = np.linspace(0, 255, w)[None, :, None]
        y = np.linspace(0, 255, h)[:, None, None]
        img = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                              RNG.integers(0, 256, (h, w, 1))], axis=2).astype(np.uint8)
        p = os.path.join(folder, f"img{i}.jpg")
        Image.fromarray(np.roll(img, i, axis=2)).save(p, quality=90)
        paths.append(p)
    return paths


def png_bytes(w, h, mode):
    arr = RNG.integers(0, 256, (h, w, 3 if mode == "RGB" else 1), dtype=np.uint8)
    img = Image.fromarray(arr if mode == "RGB" else arr[:, :, 0], mode)
    b = io.BytesIO()
    img.save(b, format="PNG")
    return b.getvalue()


def parse_class_strings(arr):
    out = []
    for row in arr:
        out.append([(s.decode() if isinstance(s, bytes) else str(s)).split(":") for s in row])
    return out


def check_classification(cls_out, raw, k):
    """cls_out: BYTES [N, k'] "value:index[:label]", raw: FP32 [N, K]; k' = min(k, K), ranked by raw."""
    expect(cls_out.shape == (raw.shape[0], min(k, raw.shape[1])),
           f"classification shape {cls_out.shape}, want {(raw.shape[0], min(k, raw.shape[1]))}")
    for n, row in enumerate(parse_class_strings(cls_out)):
        idx = [int(r[1]) for r in row]
        want = list(np.argsort(-raw[n], kind="stable")[: len(idx)])
        expect(idx == want, f"row {n}: indices {idx}, raw ranking {want}")
        for r in row:
            expect(abs(float(r[0]) - raw[n, int(r[1])]) < 1e-4, f"value {r[0]} != raw {raw[n, int(r[1])]}")
    return f"e.g. {cls_out[0][:3].tolist()}"


# ---------------------------------------------------------------- gRPC, poll mode
def grpc_poll(srv):
    P = "grpc"
    c = grpcclient.InferenceServerClient(url=srv.grpc_url)  # default options, as the examples
    # simple_grpc_health_metadata.py
    check(P, "is_server_live(headers=)", lambda: expect(c.is_server_live(headers={"test": "1", "dummy": "2"}), "False"))
    check(P, "is_server_ready()", lambda: expect(c.is_server_ready(), "False"))
    check(P, "is_model_ready(tiny)", lambda: expect(c.is_model_ready("tiny"), "False"))
    check(P, "is_model_ready(tiny, '2')", lambda: expect(c.is_model_ready("tiny", "2"), "False"))
    check(P, "is_model_ready(wrong_model_name) is False", lambda: expect(not c.is_model_ready("wrong_model_name"), "True"))

    def server_md():
        md = c.get_server_metadata()
        exts = list(md.extensions)
        for e in ("classification", "model_configuration", "statistics", "model_repository"):
            expect(e in exts, f"extension {e} not in {exts}")
        return f"name={md.name} version={md.version} extensions={exts}"
    check(P, "get_server_metadata()", server_md)

    def model_md():
        md = c.get_model_metadata("tiny", headers={"test": "1", "dummy": "2"})
        expect(md.name == "tiny", md.name)
        expect(md.inputs[0].datatype == "FP32" and list(md.inputs[0].shape) == [-1, 1, 28, 28], str(md.inputs))
        expect(md.outputs[0].name == "scores" and list(md.outputs[0].shape) == [-1, 10], str(md.outputs))
        return f"versions={list(md.versions)} platform={md.platform}"
    check(P, "get_model_metadata(tiny, headers=)", model_md)
    check(P, "get_model_metadata(wrong_model_name) raises", lambda: expect_error(
        lambda: c.get_model_metadata("wrong_model_name"), triton_text="Request for unknown model"))

    def model_cfg(name, **kw):
        cfg = c.get_model_config(name, **kw)
        cc = cfg.config
        expect(cc.name == name, f"config.name={cc.name!r}")
        expect(len(cc.input) == 1, f"{len(cc.input)} inputs")
        from tritonclient.grpc import model_config_pb2 as mc
        expect(cc.input[0].format in (mc.ModelInput.FORMAT_NCHW, mc.ModelInput.FORMAT_NHWC),
               f"input format {mc.ModelInput.Format.Name(cc.input[0].format)}")
        expect(cc.max_batch_size > 0, f"max_batch_size={cc.max_batch_size}")
        c.get_model_config(name, as_json=True)
        return (f"platform={cc.platform} backend={cc.backend} max_batch_size={cc.max_batch_size} "
                f"input={cc.input[0].name}{list(cc.input[0].dims)} outputs={[(o.name, list(o.dims)) for o in cc.output]}")
    check(P, "get_model_config(tiny)", model_cfg, "tiny")
    check(P, "get_model_config(resnet18)", model_cfg, "resnet18")
    check(P, "get_model_config(tiny, '2')", model_cfg, "tiny", model_version="2")
    check(P, "get_model_config(wrong_model_name) raises", lambda: expect_error(
        lambda: c.get_model_config("wrong_model_name")))

    def repo_index():
        idx = c.get_model_repository_index()
        names = sorted({m.name for m in idx.models})
        expect({"tiny", "rgb", "resnet18"} <= set(names), f"index {names}")
        return str([(m.name, m.version, m.state) for m in idx.models])
    check(P, "get_model_repository_index()", repo_index)

    def index_lists_failed():
        idx = c.get_model_repository_index()
        states = {m.name: (m.state, m.reason) for m in idx.models}
        if "broken" not in states:
            raise Warned(f"model folder 'broken' (fails to load) missing from the index {sorted(states)}; "
                         "Triton lists every model of the repository, a failed one as UNAVAILABLE with its reason")
        return str(states["broken"])
    check(P, "get_model_repository_index() lists the unloadable model (Triton: UNAVAILABLE + reason)", index_lists_failed)

    # simple_grpc_model_control.py outside explicit mode
    check(P, "load_model(rgb) in poll mode raises", lambda: expect_error(lambda: c.load_model("rgb")))
    check(P, "unload_model(rgb) in poll mode raises", lambda: expect_error(lambda: c.unload_model("rgb")))

    # simple_grpc_infer_client.py adapted: tiny FP32 [2,1,28,28] instead of simple INT32 [1,16]
    x = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)

    def infer_fp32():
        inp = grpcclient.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        r = c.infer(model_name="tiny", inputs=[inp], outputs=[grpcclient.InferRequestedOutput("scores")],
                    client_timeout=30.0, headers={"test": "1"}, compression_algorithm=None)
        s = r.as_numpy("scores")
        expect(s is not None and s.shape == (2, 10) and s.dtype == np.float32, f"scores {None if s is None else (s.shape, s.dtype)}")
        resp = r.get_response()
        expect(resp.model_name == "tiny" and resp.model_version == "2", f"{resp.model_name} v{resp.model_version}")
        return f"scores[0][:3]={s[0][:3]}"
    check(P, "infer(tiny, FP32, outputs=[scores], client_timeout, headers)", infer_fp32)

    def stats(name, want_models=1):
        st = c.get_inference_statistics(model_name=name)
        expect(len(st.model_stats) == want_models, f"{len(st.model_stats)} model_stats, want {want_models}")
        ms = st.model_stats[0]
        expect(ms.inference_stats.success.count >= 1, f"success.count={ms.inference_stats.success.count}")
        return (f"{ms.name} v{ms.version} success={ms.inference_stats.success.count} "
                f"inference_count={ms.inference_count} execution_count={ms.execution_count} "
                f"queue_ns={ms.inference_stats.queue.ns}")
    check(P, "get_inference_statistics(model_name=tiny)", stats, "tiny")

    def stats_all():
        st = c.get_inference_statistics()
        return f"{len(st.model_stats)} entries: {[(m.name, m.version) for m in st.model_stats]}"
    check(P, "get_inference_statistics() (all)", stats_all)
    check(P, "get_inference_statistics(wrong_model_name) raises", lambda: expect_error(
        lambda: c.get_inference_statistics(model_name="wrong_model_name")))

    def infer_no_outputs():
        inp = grpcclient.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        r = c.infer(model_name="tiny", inputs=[inp], outputs=None)
        expect(r.as_numpy("scores").shape == (2, 10), "no scores")
        return None
    check(P, "infer(tiny, FP32, outputs=None)", infer_no_outputs)

    def raw_scores(model, xx):
        inp = grpcclient.InferInput("input", list(xx.shape), "FP32")
        inp.set_data_from_numpy(xx)
        return c.infer(model, [inp]).as_numpy(c.get_model_metadata(model).outputs[0].name)

    def infer_class(model, xx, k):
        raw = raw_scores(model, xx)
        inp = grpcclient.InferInput("input", list(xx.shape), "FP32")
        inp.set_data_from_numpy(xx)
        out = c.get_model_metadata(model).outputs[0].name
        r = c.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput(out, class_count=k)])
        return check_classification(r.as_numpy(out), raw, k)
    check(P, "infer(tiny, InferRequestedOutput(scores, class_count=3))", infer_class, "tiny", x, 3)
    check(P, "infer(tiny, class_count=20 > 10 classes: clamped)", infer_class, "tiny", x, 20)
    xr = RNG.standard_normal((2, 3, 224, 224)).astype(np.float32)
    check(P, "infer(resnet18, FP32 [2,3,224,224], class_count=5)", infer_class, "resnet18", xr, 5)

    def infer_uint8(model, shape):
        px = RNG.integers(0, 256, shape, dtype=np.uint8)
        inp = grpcclient.InferInput("input", list(px.shape), "UINT8")
        inp.set_data_from_numpy(px)
        out = c.get_model_metadata(model).outputs[0].name
        r = c.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput(out, class_count=2)])
        o = r.as_numpy(out)
        expect(o.shape == (shape[0], 2), f"shape {o.shape}")
        return f"{o.tolist()}"
    check(P, "infer(tiny, UINT8 [2,28,28,1], class_count=2)", infer_uint8, "tiny", (2, 28, 28, 1))
    check(P, "infer(rgb, UINT8 [1,16,16,3], class_count=2)", infer_uint8, "rgb", (1, 16, 16, 3))

    def infer_bytes(model, imgs, k=2):
        arr = np.array(imgs, dtype=np.object_)
        inp = grpcclient.InferInput("input", list(arr.shape), "BYTES")
        inp.set_data_from_numpy(arr)
        out = c.get_model_metadata(model).outputs[0].name
        r = c.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput(out, class_count=k)])
        o = r.as_numpy(out)
        expect(o.shape == (len(imgs), k), f"shape {o.shape}")
        return f"{o.tolist()}"
    check(P, "infer(rgb, BYTES [2] PNGs, class_count=2)", infer_bytes, "rgb",
          [png_bytes(40, 30, "RGB"), png_bytes(16, 16, "RGB")])
    jpg = open(IMAGES[0], "rb").read()
    check(P, "infer(resnet18, BYTES [1] JPEG, class_count=3)", infer_bytes, "resnet18", [jpg], 3)

    for algo in ("gzip", "deflate"):
        def infer_comp(algo=algo):
            inp = grpcclient.InferInput("input", list(x.shape), "FP32")
            inp.set_data_from_numpy(x)
            r = c.infer("tiny", [inp], compression_algorithm=algo)
            expect(r.as_numpy("scores").shape == (2, 10), "bad shape")
        check(P, f"infer(tiny, compression_algorithm={algo})", infer_comp)

    check(P, "infer(wrong_model_name) raises", lambda: expect_error(
        lambda: c.infer("wrong_model_name", [_fp32_input(grpcclient, x)])))
    check(P, "infer(tiny, model_version='2', request_id='r1')", lambda: expect(
        c.infer("tiny", [_fp32_input(grpcclient, x)], model_version="2", request_id="r1").get_response().id == "r1", "id"))

    # simple_grpc_async_infer_client.py adapted
    def async_infer():
        q = queue.Queue()
        c.async_infer(model_name="tiny", inputs=[_fp32_input(grpcclient, x)],
                      callback=lambda result, error: q.put((result, error)),
                      outputs=[grpcclient.InferRequestedOutput("scores")])
        result, error = q.get(timeout=30)
        expect(error is None, f"callback error {error}")
        expect(result.as_numpy("scores").shape == (2, 10), "bad shape")
        return None
    check(P, "async_infer(tiny, callback)", async_infer)

    def async_infer_err():
        q = queue.Queue()
        c.async_infer(model_name="wrong_model_name", inputs=[_fp32_input(grpcclient, x)],
                      callback=lambda result, error: q.put((result, error)))
        result, error = q.get(timeout=30)
        expect(error is not None and result is None, "no error for unknown model")
        return f"error={error}"
    check(P, "async_infer(wrong_model_name) -> callback error", async_infer_err)

    # simple_grpc_sequence_stream_infer_client.py adapted (no sequence models in Fovea)
    def stream(n=4, empty_final=False, with_seq=False):
        q = queue.Queue()
        c.start_stream(callback=lambda result, error: q.put((result, error)), stream_timeout=None)
        try:
            for i in range(n):
                kw = dict(sequence_id=1000, sequence_start=(i == 0), sequence_end=(i == n - 1)) if with_seq else {}
                c.async_stream_infer(model_name="tiny", inputs=[_fp32_input(grpcclient, x)],
                                     outputs=[grpcclient.InferRequestedOutput("scores", class_count=2)],
                                     request_id=f"{1000}_{i}", enable_empty_final_response=empty_final, **kw)
            got = {}
            for _ in range(n):
                result, error = q.get(timeout=30)
                expect(error is None, f"stream callback error: {error}")
                resp = result.get_response()
                if empty_final:
                    p = resp.parameters.get("triton_final_response")
                    expect(p is not None and p.bool_param, f"response {resp.id} lacks triton_final_response=true "
                           f"(parameters {dict(resp.parameters)})")
                got[resp.id] = result.as_numpy("scores")
            expect(sorted(got) == [f"1000_{i}" for i in range(n)], f"ids {sorted(got)}")
        finally:
            c.stop_stream()
        return None
    check(P, "start_stream/async_stream_infer x4/stop_stream", stream)
    check(P, "async_stream_infer(enable_empty_final_response=True)", stream, 2, True)
    check(P, "async_stream_infer(sequence_id/start/end) on a non-sequence model (accepted)", stream, 2, False, True)

    def stream_err():
        q = queue.Queue()
        c.start_stream(callback=lambda result, error: q.put((result, error)))
        try:
            c.async_stream_infer(model_name="wrong_model_name", inputs=[_fp32_input(grpcclient, x)], request_id="e1")
            c.async_stream_infer(model_name="tiny", inputs=[_fp32_input(grpcclient, x)], request_id="ok1")
            res = [q.get(timeout=30) for _ in range(2)]
        finally:
            c.stop_stream()
        errs = [e for r, e in res if e is not None]
        oks = [r for r, e in res if r is not None]
        expect(len(errs) == 1 and len(oks) == 1, f"{len(errs)} errors, {len(oks)} results")
        return f"error={errs[0]}"
    check(P, "stream: unknown model -> callback error, stream goes on", stream_err)

    # grpc_client.py (raw stubs) adapted: resnet18 instead of densenet_onnx
    def raw_stub():
        import grpc
        from tritonclient.grpc import service_pb2, service_pb2_grpc
        ch = grpc.insecure_channel(srv.grpc_url)
        st = service_pb2_grpc.GRPCInferenceServiceStub(ch)
        st.ServerLive(service_pb2.ServerLiveRequest())
        st.ServerReady(service_pb2.ServerReadyRequest())
        st.ModelReady(service_pb2.ModelReadyRequest(name="resnet18", version=""))
        st.ServerMetadata(service_pb2.ServerMetadataRequest())
        st.ModelMetadata(service_pb2.ModelMetadataRequest(name="resnet18", version=""))
        st.ModelConfig(service_pb2.ModelConfigRequest(name="resnet18", version=""))
        req = service_pb2.ModelInferRequest(model_name="resnet18", model_version="", id="my request id")
        t = service_pb2.ModelInferRequest().InferInputTensor()
        t.name, t.datatype = "input", "FP32"
        t.shape.extend([1, 3, 224, 224])
        req.inputs.extend([t])
        o = service_pb2.ModelInferRequest().InferRequestedOutputTensor()
        o.name = "output"
        req.outputs.extend([o])
        req.raw_input_contents.extend([np.zeros((1, 3, 224, 224), np.float32).tobytes()])
        resp = st.ModelInfer(req)
        expect(resp.id == "my request id" and len(resp.raw_output_contents) == 1, str(resp)[:200])
        ch.close()
    check(P, "grpc_client.py stub calls (ServerLive..ModelConfig, ModelInfer) on resnet18", raw_stub)
    c.close()


def _fp32_input(mod, x):
    inp = mod.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    return inp


# ---------------------------------------------------------------- gRPC, explicit mode
def grpc_explicit(srv):
    P = "grpc"
    c = grpcclient.InferenceServerClient(url=srv.grpc_url)

    def idx():
        i = c.get_model_repository_index()
        names = {m.name: m.state for m in i.models}
        expect(names.get("tiny") == "READY", f"tiny not READY: {names}")
        return str([(m.name, m.version, m.state) for m in i.models])
    check(P, "[explicit] get_model_repository_index()", idx)

    def idx_all():
        names = {m.name for m in c.get_model_repository_index().models}
        want = {"tiny", "rgb", "resnet18", "broken"}
        expect(want <= names, f"index lists {sorted(names)}; Triton lists every model folder ({sorted(want)}), "
               "unloaded ones with empty state, so a client can discover what to load "
               "(simple_grpc_model_control.py checks len(index.models) == models in the repository)")
    check(P, "[explicit] get_model_repository_index() lists unloaded models too", idx_all)
    check(P, "[explicit] is_model_ready(rgb) False before load", lambda: expect(not c.is_model_ready("rgb"), "ready"))
    check(P, "[explicit] load_model(rgb)", lambda: c.load_model("rgb"))
    check(P, "[explicit] is_model_ready(rgb) after load", lambda: expect(c.is_model_ready("rgb"), "not ready"))
    check(P, "[explicit] infer(rgb) after load", lambda: expect(
        c.infer("rgb", [_fp32_input(grpcclient, np.zeros((1, 3, 16, 16), np.float32))]).as_numpy("scores").shape == (1, 3), "shape"))
    check(P, "[explicit] get_model_config(rgb) after load", lambda: expect(
        c.get_model_config("rgb").config.name == "rgb", "name"))
    check(P, "[explicit] load_model(tiny) again (reload)", lambda: c.load_model("tiny"))
    def cfg_invalid_json():
        # The server implements the config parameter: a config that is not JSON is a load failure
        # (FAILED_PRECONDITION), not UNIMPLEMENTED, and the model keeps serving with the configuration it had.
        before = c.get_model_config("tiny").config.max_batch_size
        result = expect_error(
            lambda: c.load_model("tiny", config='"parameters": {"config": {{"max_batch_size": "16"}}}'),
            must_contain="with the request's config", status="FAILED_PRECONDITION", triton_text="failed to load")
        expect(c.is_model_ready("tiny"), "tiny is no longer ready after a rejected config")
        after = c.get_model_config("tiny").config.max_batch_size
        expect(after == before, f"max_batch_size {before} became {after} after a rejected config")
        return result
    check(P, "[explicit] load_model(tiny, config=invalid JSON) raises 'failed to load'", cfg_invalid_json)

    def cfg_override():
        c.load_model("tiny", config='{"max_batch_size":"16"}')
        mbs = c.get_model_config("tiny").config.max_batch_size
        expect(mbs == 16, f"load_model(config='{{\"max_batch_size\":\"16\"}}') accepted, but get_model_config "
               f"max_batch_size={mbs}, want 16")
    check(P, "[explicit] load_model(tiny, config='{\"max_batch_size\":\"16\"}') then get_model_config", cfg_override)
    check(P, "[explicit] unload_model(rgb)", lambda: c.unload_model("rgb"))
    check(P, "[explicit] is_model_ready(rgb) False after unload", lambda: expect(not c.is_model_ready("rgb"), "still ready"))
    check(P, "[explicit] infer(rgb) after unload raises", lambda: expect_error(
        lambda: c.infer("rgb", [_fp32_input(grpcclient, np.zeros((1, 3, 16, 16), np.float32))])))
    check(P, "[explicit] load_model(tiny, config='{}', files={'file:'+'A'*256: b'a'}) raises", lambda: expect_error(
        lambda: c.load_model("tiny", config="{}", files={"file:" + "A" * 256: b"a"}),
        triton_text="failed to poll from model repository"))
    check(P, "[explicit] is_server_live() after rejected load", lambda: expect(c.is_server_live(), "not live"))
    check(P, "[explicit] load_model(wrong_model_name) raises 'failed to load'", lambda: expect_error(
        lambda: c.load_model("wrong_model_name"), triton_text="failed to load"))
    check(P, "[explicit] load_model(broken) raises", lambda: expect_error(lambda: c.load_model("broken")))
    check(P, "[explicit] load_model(resnet18) + infer class_count=3", lambda: (c.load_model("resnet18"), expect(
        c.infer("resnet18", [_fp32_input(grpcclient, np.zeros((1, 3, 224, 224), np.float32))],
                outputs=[grpcclient.InferRequestedOutput("output", class_count=3)]).as_numpy("output").shape == (1, 3), "shape"))[1])
    check(P, "[explicit] get_inference_statistics(tiny)", lambda: str(len(c.get_inference_statistics("tiny").model_stats)))
    check(P, "[explicit] unload_model(resnet18)", lambda: c.unload_model("resnet18"))
    c.close()


# ---------------------------------------------------------------- HTTP
def http_poll(srv):
    P = "http"
    c = httpclient.InferenceServerClient(url=srv.http_url)  # default options
    check(P, "is_server_live(headers=)", lambda: expect(c.is_server_live(headers={"test": "1"}), "False"))
    check(P, "is_server_ready()", lambda: expect(c.is_server_ready(), "False"))
    check(P, "is_model_ready(tiny)", lambda: expect(c.is_model_ready("tiny"), "False"))
    check(P, "is_model_ready(tiny, '2')", lambda: expect(c.is_model_ready("tiny", "2"), "False"))
    check(P, "is_model_ready(wrong_model_name) is False", lambda: expect(not c.is_model_ready("wrong_model_name"), "True"))

    def server_md():
        md = c.get_server_metadata()
        exts = md.get("extensions", [])
        probes = {"model_configuration": lambda: c.get_model_config("tiny"),
                  "statistics": lambda: c.get_inference_statistics("tiny"),
                  "model_repository": lambda: c.get_model_repository_index()}
        broken = []
        for e, fn in probes.items():
            if e in exts:
                try:
                    fn()
                except InferenceServerException as ex:
                    broken.append(f"{e} (listed, but: {ex.message()})")
        expect(not broken, "REST lists extensions whose routes fail: " + "; ".join(broken))
        expect("binary_tensor_data" in exts, f"binary_tensor_data (tritonclient.http's default) not in {exts}")
        return str(md)
    check(P, "get_server_metadata() (lists the extensions that work)", server_md)

    def model_md():
        md = c.get_model_metadata("tiny", headers={"test": "1"})
        expect(md["name"] == "tiny", str(md))
        return str(md)[:200]
    check(P, "get_model_metadata(tiny)", model_md)
    check(P, "get_model_metadata(wrong_model_name) raises", lambda: expect_error(
        lambda: c.get_model_metadata("wrong_model_name"), triton_text="Request for unknown model"))

    def model_cfg(name):
        cfg = c.get_model_config(name)
        expect(cfg.get("name") == name, str(cfg)[:300])
        expect(cfg["input"][0].get("format") in ("FORMAT_NCHW", "FORMAT_NHWC"), f"input {cfg['input'][0]}")
        return str(cfg)[:300]
    check(P, "get_model_config(tiny)  GET /v2/models/tiny/config", model_cfg, "tiny")
    check(P, "get_model_config(resnet18)", model_cfg, "resnet18")
    check(P, "get_model_repository_index()  POST /v2/repository/index", lambda: (lambda i: (
        expect({"tiny", "rgb", "resnet18"} <= {m["name"] for m in i}, str(i)), str(i))[1])(c.get_model_repository_index()))
    check(P, "load_model(rgb) in poll mode raises", lambda: expect_error(lambda: c.load_model("rgb")))

    x = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)

    def infer(binary_in=True, binary_out=True, k=0, model="tiny", xx=x, out="scores", **kw):
        inp = httpclient.InferInput("input", list(xx.shape), "FP32")
        inp.set_data_from_numpy(xx, binary_data=binary_in)
        outs = [httpclient.InferRequestedOutput(out, binary_data=binary_out, class_count=k)]
        r = c.infer(model, [inp], outputs=outs, **kw)
        o = r.as_numpy(out)
        expect(o is not None and o.shape[0] == xx.shape[0], f"output {None if o is None else o.shape}")
        return o
    check(P, "infer(tiny, FP32, defaults: binary in+out)", lambda: str(infer().shape))
    check(P, "infer(tiny, FP32, outputs=None)", lambda: (lambda r: expect(r.as_numpy("scores") is not None, "no scores"))(
        c.infer("tiny", [_fp32_input_http(x)])))
    check(P, "infer(tiny, FP32, binary_data=False in+out) [non-default JSON]", lambda: str(infer(False, False).shape))
    check(P, "infer(tiny, class_count=3, defaults)", lambda: check_classification(infer(k=3), infer(False, False), 3))
    check(P, "infer(tiny, class_count=3, binary_data=False) [non-default JSON]",
          lambda: check_classification(infer(False, False, k=3), infer(False, False), 3))
    check(P, "infer(tiny, request_compression_algorithm=gzip)", lambda: str(infer(request_compression_algorithm="gzip").shape))
    check(P, "infer(tiny, request_compression_algorithm=deflate)", lambda: str(infer(request_compression_algorithm="deflate").shape))
    check(P, "infer(tiny, response_compression_algorithm=gzip)", lambda: str(infer(response_compression_algorithm="gzip").shape))

    def infer_uint8(binary):
        px = RNG.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
        inp = httpclient.InferInput("input", list(px.shape), "UINT8")
        inp.set_data_from_numpy(px, binary_data=binary)
        return str(c.infer("rgb", [inp], outputs=[httpclient.InferRequestedOutput("scores", binary_data=binary, class_count=2)]).as_numpy("scores"))
    check(P, "infer(rgb, UINT8, class_count=2, defaults)", infer_uint8, True)
    check(P, "infer(rgb, UINT8, class_count=2, binary_data=False) [non-default JSON]", infer_uint8, False)

    def infer_bytes(binary):
        arr = np.array([png_bytes(20, 20, "RGB")], dtype=np.object_)
        inp = httpclient.InferInput("input", [1], "BYTES")
        inp.set_data_from_numpy(arr, binary_data=binary)
        return str(c.infer("rgb", [inp], outputs=[httpclient.InferRequestedOutput("scores", binary_data=binary, class_count=2)]).as_numpy("scores"))
    check(P, "infer(rgb, BYTES PNG, class_count=2, defaults)", infer_bytes, True)
    # (BYTES with binary_data=False is refused by tritonclient itself for non-UTF-8 bytes: not a server matter)

    def stats():
        st = c.get_inference_statistics(model_name="tiny", headers={"test": "1"})
        expect(len(st["model_stats"]) == 1, str(st)[:300])
        return str(st)[:300]
    check(P, "get_inference_statistics(tiny)  GET /v2/models/tiny/stats", stats)

    def async_infer():
        r = c.async_infer("tiny", [_fp32_input_http(x)], outputs=[httpclient.InferRequestedOutput("scores")])
        return str(r.get_result().as_numpy("scores").shape)
    check(P, "async_infer(tiny).get_result()", async_infer)
    c.close()


def _fp32_input_http(x, binary=True):
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    return inp


def http_explicit(srv):
    P = "http"
    c = httpclient.InferenceServerClient(url=srv.http_url)
    check(P, "[explicit] get_model_repository_index()", lambda: str(c.get_model_repository_index()))
    check(P, "[explicit] load_model(rgb)  POST /v2/repository/models/rgb/load", lambda: c.load_model("rgb"))
    check(P, "[explicit] is_model_ready(rgb) after load", lambda: expect(c.is_model_ready("rgb"), "not ready"))
    check(P, "[explicit] unload_model(rgb)  POST /v2/repository/models/rgb/unload", lambda: c.unload_model("rgb"))
    check(P, "[explicit] is_model_ready(rgb) False after unload", lambda: expect(not c.is_model_ready("rgb"), "still ready"))
    check(P, "[explicit] load_model(wrong_model_name) raises", lambda: expect_error(
        lambda: c.load_model("wrong_model_name"), triton_text="failed to load"))

    def cfg_override():
        c.load_model("rgb", config='{"max_batch_size": 8}')
        mbs = c.get_model_config("rgb")["max_batch_size"]
        expect(mbs == 8, f"load_model(config='{{\"max_batch_size\": 8}}') accepted, but max_batch_size={mbs}")
        c.load_model("rgb")
        mbs = c.get_model_config("rgb")["max_batch_size"]
        expect(mbs != 8, "a load without config kept the request's config")
        c.unload_model("rgb")
    check(P, "[explicit] load_model(rgb, config=...) then get_model_config, then a plain load", cfg_override)
    check(P, "[explicit] load_model(rgb, config=not JSON) raises 'failed to load'", lambda: expect_error(
        lambda: c.load_model("rgb", config="{max_batch_size: 8"), must_contain="with the request's config",
        triton_text="failed to load"))
    c.close()


# ---------------------------------------------------------------- REST probes: exact server answers
def rest_probes(srv, routes):
    """Raw answers of the REST routes tritonclient.http uses, for the report."""
    if FLAGS.only == "grpc":
        return
    for method, path, body, hdrs in routes:
        req = urllib.request.Request(f"http://{srv.http_url}{path}", data=body, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read()[:200]
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()[:200]
        except Exception as e:  # noqa: BLE001
            status, text = "ERR", str(e).encode()
        print(f"INFO http {method} {path} -> {status} {text!r}", flush=True)


def binary_body():
    x = np.zeros((1, 1, 28, 28), np.float32)
    hdr = json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                  "parameters": {"binary_data_size": x.nbytes}}],
                      "outputs": [{"name": "scores", "parameters": {"binary_data": True}}]}).encode()
    return hdr + x.tobytes(), {"Inference-Header-Content-Length": str(len(hdr)), "Content-Type": "application/octet-stream"}


# ---------------------------------------------------------------- the unchanged example scripts
def run_example(proto_tag, name, argv, want_lines, shim=False):
    """Runs an example script unchanged; PASS when it exits 0, ends with its own "PASS" line and
    printed want_lines classification lines."""
    if FLAGS.only and FLAGS.only != proto_tag:
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = FLAGS.site + ((":" + FLAGS.shim) if shim else "")
    cmd = ["/usr/bin/python3", os.path.join(FLAGS.examples, argv[0])] + argv[1:]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    out = (p.stdout + p.stderr).strip()
    import re
    n = len(re.findall(r"^\s+\S+ \(\d+\) = \S+$", out, re.M))  # "    value (index) = label"
    if p.returncode == 0 and n == want_lines and out.splitlines()[-1] == "PASS":
        record("PASS", proto_tag, f"{name}: {' '.join(argv)}", f"{n} class lines")
    else:
        tail = " | ".join(out.splitlines()[-6:])
        record("FAIL", proto_tag, f"{name}: {' '.join(argv)}",
               f"exit {p.returncode}, {n} class lines (want {want_lines}): {tail}")
    if FLAGS.verbose:
        print(out)


def examples(srv):
    imgdir = os.path.dirname(IMAGES[0])
    g, h = srv.grpc_url, srv.http_url
    n = 3 * len(IMAGES)  # -c 3 for every image
    run_example("grpc", "image_client.py unchanged", ["image_client.py", "-m", "resnet18", "-c", "3", "-s", "INCEPTION",
                "-i", "grpc", "-u", g, imgdir], n)
    run_example("grpc", "image_client.py unchanged", ["image_client.py", "-m", "resnet18", "-c", "3", "-s", "INCEPTION",
                "-i", "grpc", "-u", g, "-b", "3", imgdir], n)
    run_example("grpc", "image_client.py unchanged", ["image_client.py", "-m", "resnet18", "-c", "3", "-s", "INCEPTION",
                "-i", "grpc", "-u", g, "-a", imgdir], n)
    run_example("grpc", "image_client.py unchanged", ["image_client.py", "-m", "resnet18", "-c", "3", "-s", "INCEPTION",
                "-i", "grpc", "-u", g, "--streaming", imgdir], n)
    run_example("grpc", "image_client.py unchanged", ["image_client.py", "-m", "tiny", "-c", "3", "-s", "VGG",
                "-i", "grpc", "-u", g, IMAGES[0]], 3)
    run_example("grpc", "grpc_image_client.py unchanged", ["grpc_image_client.py", "-m", "resnet18", "-c", "3",
                "-s", "INCEPTION", "-u", g, imgdir], n)
    run_example("http", "image_client.py unchanged (attrdict shim)", ["image_client.py", "-m", "resnet18", "-c", "3",
                "-s", "INCEPTION", "-i", "http", "-u", h, imgdir], n, shim=True)
    run_example("http", "image_client.py unchanged (attrdict shim)", ["image_client.py", "-m", "resnet18", "-c", "3",
                "-s", "INCEPTION", "-i", "http", "-u", h, "-a", imgdir], n, shim=True)


# ---------------------------------------------------------------- main
def main():
    global LOGDIR, IMAGES
    LOGDIR = FLAGS.log_dir or tempfile.mkdtemp(prefix="check_tritonclient.")
    os.makedirs(LOGDIR, exist_ok=True)
    IMAGES = make_images(os.path.join(LOGDIR, "images"))
    for m in ("tiny", "rgb", "resnet18", "broken"):
        if not os.path.isdir(os.path.join(FLAGS.models, m)):
            print(f"FAIL setup: {FLAGS.models}/{m} missing")
            return 1
    print(f"server {FLAGS.server_bin}; models {FLAGS.models}; logs and images in {LOGDIR}", flush=True)

    srv = Server("poll", [])
    try:
        t = srv.wait_ready(["tiny", "rgb", "resnet18"])
        print(f"# poll mode: {' '.join(srv.cmd)}  (ready in {t:.1f}s)", flush=True)
        if FLAGS.only != "http":
            grpc_poll(srv)
        if FLAGS.only != "grpc":
            http_poll(srv)
            body, hdrs = binary_body()
            rest_probes(srv, [
                ("GET", "/v2", None, {}),
                ("GET", "/v2/models/tiny/config", None, {}),
                ("GET", "/v2/models/tiny/versions/2/config", None, {}),
                ("GET", "/v2/models/tiny/stats", None, {}),
                ("GET", "/v2/models/stats", None, {}),
                ("POST", "/v2/repository/index", b"{}", {"Content-Type": "application/json"}),
                ("POST", "/v2/models/tiny/infer", body, hdrs),
            ])
        examples(srv)
    finally:
        srv.stop()
        print(f"# poll-mode server exited {srv.proc.returncode}", flush=True)

    srv = Server("explicit", ["--model-control-mode", "explicit", "--load-model", "tiny"])
    try:
        t = srv.wait_ready(["tiny"])
        print(f"# explicit mode: {' '.join(srv.cmd)}  (ready in {t:.1f}s)", flush=True)
        if FLAGS.only != "http":
            grpc_explicit(srv)
        if FLAGS.only != "grpc":
            http_explicit(srv)
            rest_probes(srv, [
                ("POST", "/v2/repository/models/rgb/load", b"{}", {"Content-Type": "application/json"}),
                ("POST", "/v2/repository/models/rgb/unload", b"{}", {"Content-Type": "application/json"}),
            ])
    finally:
        srv.stop()
        print(f"# explicit-mode server exited {srv.proc.returncode}", flush=True)

    fails = [r for r in RESULTS if r[0] == "FAIL"]
    warns = [r for r in RESULTS if r[0] == "WARN"]
    passes = [r for r in RESULTS if r[0] == "PASS"]
    for proto in ("grpc", "http"):
        rs = [r for r in RESULTS if r[1] == proto]
        if rs:
            print(f"{proto}: {sum(r[0] == 'PASS' for r in rs)} passed, {sum(r[0] == 'FAIL' for r in rs)} failed, "
                  f"{sum(r[0] == 'WARN' for r in rs)} warned")
    print(f"{len(passes)} passed, {len(fails)} failed, {len(warns)} warned")
    return 1 if fails or (FLAGS.strict and warns) else 0


if __name__ == "__main__":
    sys.exit(main())
