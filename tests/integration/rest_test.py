#!/usr/bin/python3
"""Open Inference Protocol v2 REST and the localization extension, end to end: the real fovea-server on 127.0.0.1
with the bundled Fashion-MNIST model, called over plain HTTP (urllib and raw sockets). Every route, its happy path and
its errors (bad JSON, wrong shapes and datatypes, unknown model, oversize body, image and batch), the binary tensor data
extension as Triton's HTTP client sends it, gzip and deflate bodies both ways, the metrics the calls leave, and that
the server keeps serving and exits 0 on SIGTERM afterwards.

Usage: rest_test.py --server-bin BIN --models DIR --version X.Y.Z [unittest args]
"""
import argparse
import base64
import gzip
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import zlib

import cv2
import numpy as np

ARGS = None
VERSION = None  # the bundled model's served version, from --models
STARTUP_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 60
PROBABILITY_TOLERANCE = 1e-5
DATASET = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
MODEL = "fashion-mnist"
CLASSES = 10
# Small limits, so the oversize cases are cheap to send.
MAX_MESSAGE_BYTES = 1 << 20
MAX_IMAGE_BYTES = 64 << 10
MAX_IMAGES_PER_REQUEST = 16


def served_version(models):
    """The version the server's default policy (latest:1) serves: the highest numbered folder of the model."""
    folder = os.path.join(models, MODEL)
    return str(max(int(name) for name in os.listdir(folder) if name.isdigit()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def png(image):
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    return struct.unpack(">II", data[16:24])


class Server:
    """The real fovea-server with gRPC, metrics and REST on free loopback ports."""

    def __init__(self):
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.metrics_port = free_port()
        self.http_port = free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [ARGS.server_bin, "--address", self.grpc_address, "--model-repository", ARGS.models,
             "--metrics-port", str(self.metrics_port), "--http-port", str(self.http_port), "--threads", "2",
             "--max-message-bytes", str(MAX_MESSAGE_BYTES), "--max-image-bytes", str(MAX_IMAGE_BYTES),
             "--max-images-per-request", str(MAX_IMAGES_PER_REQUEST)],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + STARTUP_SECONDS
        while time.time() < deadline:
            try:
                if request("GET", self.base + "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("fovea-server did not become ready:\n" + self.log_text())

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def request(method, url, body=None, content_type=None, headers=None):
    """(status, headers, body bytes) of one HTTP call; error statuses are answers too, not exceptions."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    call = urllib.request.Request(url, data=body, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(call, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class RestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.base = cls.server.base
        images = read_idx(os.path.join(DATASET, "t10k-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(DATASET, "t10k-labels-idx1-ubyte.gz"))
        cls.pixels = images[:8]
        cls.truth = [int(label) for label in labels[:8]]
        cls.pngs = [png(image) for image in cls.pixels]

    @classmethod
    def tearDownClass(cls):
        # After every error case the server still answers, and drains and exits cleanly.
        status, _, body = request("POST", cls.base + f"/v2/models/{MODEL}/infer?classification=1", cls.pngs[0],
                                  "image/png")
        still_serving = status == 200 and json.loads(body)["outputs"][0]["data"][0].endswith(":Ankle boot")
        exit_code = cls.server.stop()
        if not still_serving:
            raise AssertionError(f"server stopped serving after the error cases ({status} {body!r}):\n"
                                 + cls.server.log_text())
        if exit_code != 0:
            raise AssertionError(f"fovea-server exited {exit_code} on SIGTERM:\n{cls.server.log_text()}")

    # Helpers

    def call(self, method, path, body=None, content_type=None, headers=None):
        return request(method, self.base + path, body, content_type, headers)

    def call_json(self, method, path, payload=None, expect=200, raw=None, content_type="application/json"):
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        status, headers, data = self.call(method, path, body, content_type if body is not None else None)
        self.assertEqual(status, expect, data)
        self.assertTrue(headers["Content-Type"].startswith("application/json"), headers["Content-Type"])
        return json.loads(data)

    def assert_error(self, method, path, status, *message_parts, payload=None, raw=None,
                     content_type="application/json"):
        answer = self.call_json(method, path, payload, expect=status, raw=raw, content_type=content_type)
        self.assertEqual(list(answer), ["error"], answer)
        for part in message_parts:
            self.assertIn(part, answer["error"])
        return answer["error"]

    def infer(self, payload, version=""):
        prefix = f"/v2/models/{MODEL}" + (f"/versions/{version}" if version else "")
        return self.call_json("POST", prefix + "/infer", payload)

    def bytes_input(self, images, name="input"):
        return {"name": name, "datatype": "BYTES", "shape": [len(images)],
                "data": [{"b64": base64.b64encode(image).decode()} for image in images]}

    def probabilities(self, answer, batch):
        output = answer["outputs"][0]
        self.assertEqual(output["datatype"], "FP32")
        self.assertEqual(output["shape"], [batch, CLASSES])
        rows = np.array(output["data"], dtype=np.float64).reshape(batch, CLASSES)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-4)
        return rows

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.server.metrics_port}/metrics", timeout=10) as response:
            return response.read().decode()

    # Health, server and repository

    def test_health_live_and_ready(self):
        self.assertEqual(self.call_json("GET", "/v2/health/live"), {"live": True})
        self.assertEqual(self.call_json("GET", "/v2/health/ready"), {"ready": True})

    def test_server_metadata(self):
        answer = self.call_json("GET", "/v2")
        self.assertEqual(answer["name"], "fovea")
        self.assertEqual(answer["version"], ARGS.version)
        self.assertIn("classification", answer["extensions"])
        self.assertIn("binary_tensor_data", answer["extensions"])  # REST only: gRPC has no such extension

    def test_repository_index_by_get_and_post(self):
        for method in ("GET", "POST"):
            self.assertEqual(self.call_json(method, "/v2/repository/index"),
                             [{"name": MODEL, "version": VERSION, "state": "READY"}])

    def test_demo_page_is_served_at_the_root(self):
        status, headers, body = self.call("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        page = body.decode()
        self.assertIn("<title>Fovea</title>", page)
        # Offline: the page loads nothing from another origin.
        self.assertNotIn("http://", page.replace("http://127.0.0.1", ""))
        self.assertNotIn("https://", page)

    # Model metadata and readiness

    def test_model_metadata_with_and_without_version(self):
        for path in (f"/v2/models/{MODEL}", f"/v2/models/{MODEL}/versions/{VERSION}"):
            answer = self.call_json("GET", path)
            self.assertEqual(answer["name"], MODEL)
            self.assertEqual(answer["versions"], [VERSION])
            self.assertEqual(answer["platform"], "onnx")
            self.assertEqual(answer["inputs"], [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}])
            self.assertEqual(answer["outputs"],
                             [{"name": "probabilities", "datatype": "FP32", "shape": [-1, CLASSES]}])

    def test_model_metadata_errors(self):
        self.assert_error("GET", "/v2/models/no-such-model", 404, "no-such-model", "fashion-mnist")
        self.assert_error("GET", f"/v2/models/{MODEL}/versions/7", 404, "7")
        self.assert_error("GET", f"/v2/models/{MODEL}/versions/x", 400, "not a positive integer")
        self.assert_error("GET", "/v2/models/a%20b", 400, "model name 'a b' is invalid")
        # A path that climbs out is normalized by the HTTP layer before routing: it names no model.
        self.assert_error("GET", "/v2/models/..%2F..%2Fetc", 404, "no route")

    def test_model_ready(self):
        for path in (f"/v2/models/{MODEL}/ready", f"/v2/models/{MODEL}/versions/{VERSION}/ready"):
            self.assertEqual(self.call_json("GET", path), {"ready": True})
        self.assert_error("GET", "/v2/models/no-such-model/ready", 404, "no-such-model")
        self.assert_error("GET", f"/v2/models/{MODEL}/versions/3/ready", 404)

    # Inference

    def test_png_body_with_classification(self):
        status, headers, body = self.call("POST", f"/v2/models/{MODEL}/infer?classification=3", self.pngs[0],
                                          "image/png", {"X-Request-Id": "rest-test-42"})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["X-Request-Id"], "rest-test-42")
        output = json.loads(body)["outputs"][0]
        self.assertEqual((output["name"], output["datatype"], output["shape"]), ("probabilities", "BYTES", [1, 3]))
        score, index, label = output["data"][0].split(":", 2)
        self.assertEqual((int(index), label), (self.truth[0], "Ankle boot"))
        scores = [float(entry.split(":")[0]) for entry in output["data"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertGreater(float(score), 0.5)

    def test_json_bytes_batch_matches_single_png_calls_and_labels(self):
        answer = self.infer({"id": "batch-1", "inputs": [self.bytes_input(self.pngs)],
                             "outputs": [{"name": "probabilities"}]})
        self.assertEqual((answer["model_name"], answer["model_version"], answer["id"]), (MODEL, VERSION, "batch-1"))
        batch = self.probabilities(answer, len(self.pngs))
        for i, image in enumerate(self.pngs):
            status, _, body = self.call("POST", f"/v2/models/{MODEL}/versions/{VERSION}/infer", image,
                                        "application/octet-stream")
            self.assertEqual(status, 200, body)
            single = self.probabilities(json.loads(body), 1)
            np.testing.assert_allclose(single[0], batch[i], atol=PROBABILITY_TOLERANCE)
        correct = sum(int(np.argmax(row)) == truth for row, truth in zip(batch, self.truth))
        self.assertGreaterEqual(correct, 7, f"{correct}/8 right (the model is 93.6% accurate)")

    def test_json_uint8_nested_equals_png(self):
        pixels = self.pixels[:2, :, :, None]  # [2, 28, 28, 1]
        answer = self.infer({"inputs": [{"name": "input", "datatype": "UINT8", "shape": list(pixels.shape),
                                         "data": pixels.tolist()}]})
        from_pixels = self.probabilities(answer, 2)
        from_png = self.probabilities(self.infer({"inputs": [self.bytes_input(self.pngs[:2])]}), 2)
        np.testing.assert_allclose(from_pixels, from_png, atol=PROBABILITY_TOLERANCE)

    def test_json_fp32_input(self):
        answer = self.infer({"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 1, 28, 28],
                                         "data": [0.0] * (2 * 28 * 28)}],
                             "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]})
        output = answer["outputs"][0]
        self.assertEqual((output["datatype"], output["shape"]), ("BYTES", [2, 2]))
        self.assertEqual(output["data"][0], output["data"][2])  # two identical inputs, identical answers

    def test_bad_json_and_bad_fields_are_400(self):
        path = f"/v2/models/{MODEL}/infer"
        self.assert_error("POST", path, 400, "not valid JSON", raw=b'{"inputs": [')
        self.assert_error("POST", path, 400, "not valid JSON", raw=b"")
        self.assert_error("POST", path, 400, "JSON object", payload=[1, 2])
        self.assert_error("POST", path, 400, "inputs is missing", payload={"outputs": []})
        self.assert_error("POST", path, 400, "inputs[0].shape is missing",
                          payload={"inputs": [{"name": "input", "datatype": "FP32", "data": []}]})
        self.assert_error("POST", path, 400, "inputs[0].data element 1 must be a number",
                          payload={"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                               "data": [0.0, "x"]}]})
        self.assert_error("POST", path, 400, "not valid base64",
                          payload={"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1],
                                               "data": [{"b64": "%%%"}]}]})
        # curl -d sends JSON labelled as a form; it is still read as JSON.
        self.assert_error("POST", path, 400, "not valid JSON", raw=b"inputs=1",
                          content_type="application/x-www-form-urlencoded")

    def test_wrong_shapes_datatypes_and_names_are_400(self):
        path = f"/v2/models/{MODEL}/infer"

        def fp32(shape, count, name="input", datatype="FP32"):
            return {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": [0.0] * count}]}

        self.assert_error("POST", path, 400, "must have shape [N, 1, 28, 28]", "[1, 1, 2, 2]",
                          payload=fp32([1, 1, 2, 2], 4))
        self.assert_error("POST", path, 400, "needs 784 values", payload=fp32([1, 1, 28, 28], 10))
        self.assert_error("POST", path, 400, "INT32", payload=fp32([1, 1, 28, 28], 784, datatype="INT32"))
        self.assert_error("POST", path, 400, "unexpected input 'pixels'", payload=fp32([1, 1, 28, 28], 784, "pixels"))
        self.assert_error("POST", path, 400, "unknown output 'scores'",
                          payload={**fp32([1, 1, 28, 28], 784), "outputs": [{"name": "scores"}]})
        self.assert_error("POST", path, 400, "'classification' is 0; ask for at least 1 class",
                          payload={**fp32([1, 1, 28, 28], 784),
                                   "outputs": [{"name": "probabilities", "parameters": {"classification": 0}}]})
        self.assert_error("POST", path, 400, "not a PNG or JPEG", raw=b"definitely not an image",
                          content_type="image/png")
        self.assert_error("POST", path + "?top_k=3", 400, "unknown query parameter 'top_k'", raw=self.pngs[0],
                          content_type="image/png")

    def test_unknown_model_route_and_method(self):
        self.assert_error("POST", "/v2/models/no-such-model/infer", 404, "no-such-model", raw=self.pngs[0],
                          content_type="image/png")
        self.assert_error("POST", f"/v2/models/{MODEL}/versions/9/infer", 404, raw=self.pngs[0],
                          content_type="image/png")
        self.assert_error("GET", "/v2/nothing-here", 404, "no route")
        self.assert_error("GET", f"/v2/models/{MODEL}/explain", 404, "not one of ready, infer, localize")
        self.assert_error("GET", f"/v2/models/{MODEL}/infer", 405, "GET is not allowed")
        self.assert_error("DELETE", "/v2/health/live", 405)

    def test_oversize_body_is_413_and_the_connection_is_answered(self):
        # The whole body sent: refused once it passes the limit.
        body = b"\0" * (MAX_MESSAGE_BYTES + 1)
        message = self.assert_error("POST", f"/v2/models/{MODEL}/infer", 413, "larger than the limit",
                                    raw=body, content_type="image/png")
        self.assertIn(str(MAX_MESSAGE_BYTES), message)
        # Only the headers sent: refused from the declared length at once, before any of the body is read (the
        # socket's timeout bounds the wait; the server then closes the connection).
        with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10) as connection:
            connection.sendall(f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                               f"Content-Length: {10 * MAX_MESSAGE_BYTES}\r\n\r\n".encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += connection.recv(65536)
            head, _, body = answer.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(body) < length:
                body += connection.recv(65536)
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head)
        self.assertIn(b"Connection: close", head)
        self.assertIn("larger than the limit", json.loads(body)["error"])

    def test_kept_alive_connection_survives_a_413_and_takes_chunked_bodies(self):
        image = {"Content-Type": "image/png"}
        chunk = b"\0" * (64 << 10)
        connection = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=HTTP_TIMEOUT_SECONDS)
        try:
            calls = [
                # Over the limit but within 4 times it: read to its end and refused, the connection kept.
                (b"\0" * (MAX_MESSAGE_BYTES + 1), False, 413),
                # A chunked image body, then a chunked body that passes the limit.
                (iter([self.pngs[0][:50], self.pngs[0][50:]]), True, 200),
                (iter([chunk] * (MAX_MESSAGE_BYTES // len(chunk) + 2)), True, 413),
                (self.pngs[1], False, 200),
            ]
            for body, chunked, status in calls:
                connection.request("POST", f"/v2/models/{MODEL}/infer", body=body, headers=image,
                                   encode_chunked=chunked)
                if status == 413 and not chunked:
                    first_socket = connection.sock
                response = connection.getresponse()
                answer = response.read()
                self.assertEqual(response.status, status, answer)
                self.assertNotEqual(response.headers.get("Connection"), "close")
                self.assertIs(connection.sock, first_socket, "the connection was closed")
        finally:
            connection.close()

    def test_post_without_content_length_has_no_body(self):
        # As tritonclient.http posts /v2/repository/index: no Content-Length, no Transfer-Encoding, so no body
        # (RFC 9112); the answer must come at once, not after a read timeout.
        with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10) as connection:
            connection.sendall(b"POST /v2/repository/index HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += connection.recv(65536)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:300])

    def test_body_shorter_than_declared_is_400(self):
        head = (f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                f"Content-Length: 1000\r\n\r\n").encode()
        # The client stalls after 100 of the 1000 bytes: once the server's read timeout (30 s) passes, the request is
        # refused and the connection closed; the prefix is never served.
        with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=HTTP_TIMEOUT_SECONDS) as connection:
            connection.sendall(head + self.pngs[0][:100])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 400"), answer[:200])
        self.assertIn(b"ended after 100 of the 1000 bytes", answer)
        self.assertIn(b"Connection: close", answer)
        # The client closes its side after 100 bytes: the server sees the connection gone and answers nothing.
        with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=HTTP_TIMEOUT_SECONDS) as connection:
            connection.sendall(head + self.pngs[0][:100])
            connection.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        self.assertFalse(answer.startswith(b"HTTP/1.1 2"), answer[:200])

    def test_oversize_image_and_batch_are_413(self):
        noise = np.random.RandomState(7).randint(0, 256, size=(300, 300), dtype=np.uint8)
        big_png = png(noise)
        self.assertGreater(len(big_png), MAX_IMAGE_BYTES)
        self.assert_error("POST", f"/v2/models/{MODEL}/infer", 413, str(MAX_IMAGE_BYTES), raw=big_png,
                          content_type="image/png")
        too_many = [self.pngs[0]] * (MAX_IMAGES_PER_REQUEST + 1)
        self.assert_error("POST", f"/v2/models/{MODEL}/infer", 413, str(MAX_IMAGES_PER_REQUEST),
                          payload={"inputs": [self.bytes_input(too_many)]})

    def test_rest_calls_are_counted_in_metrics(self):
        self.infer({"inputs": [self.bytes_input(self.pngs[:1])]})
        self.assert_error("POST", f"/v2/models/{MODEL}/infer", 400, raw=b"{}")
        text = self.metrics()
        self.assertRegex(text, r'fovea_request_success_total\{model="fashion-mnist",rpc="rest.ModelInfer"\} [1-9]')
        self.assertRegex(text, r'fovea_request_failure_total\{model="fashion-mnist",reason="INVALID_ARGUMENT",'
                               r'rpc="rest.ModelInfer"\} [1-9]')
        self.assertRegex(text, r'fovea_inference_count_total\{model="fashion-mnist"\} [1-9]')

    # Binary tensor data extension (what Triton's tritonclient.http sends by default) and content codings

    def binary_infer(self, header, binary, headers=None, path=None):
        """(status, headers, JSON part, binary part) of an infer call with a JSON header and binary data after it."""
        text = json.dumps(header).encode()
        all_headers = {"Inference-Header-Content-Length": str(len(text)), **(headers or {})}
        status, answer_headers, body = self.call("POST", path or f"/v2/models/{MODEL}/infer", text + binary,
                                                 None, all_headers)
        length = answer_headers["Inference-Header-Content-Length"]
        split = int(length) if length is not None else len(body)
        return status, answer_headers, json.loads(body[:split]), body[split:]

    def fp32_images(self, count):
        """Model input tensors [count, 1, 28, 28] with real picture content."""
        return (self.pixels[:count].astype(np.float32)[:, None] / 255.0 - 0.5) / 0.5

    def test_binary_fp32_input_and_binary_output_match_json(self):
        tensor = self.fp32_images(2)
        status, headers, answer, binary = self.binary_infer(
            {"id": "bin-1", "inputs": [{"name": "input", "datatype": "FP32", "shape": list(tensor.shape),
                                        "parameters": {"binary_data_size": tensor.nbytes}}],
             "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]},
            tensor.tobytes())
        self.assertEqual(status, 200, answer)
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        output = answer["outputs"][0]
        self.assertEqual((answer["id"], output["datatype"], output["shape"]), ("bin-1", "FP32", [2, CLASSES]))
        self.assertNotIn("data", output)
        self.assertEqual(output["parameters"], {"binary_data_size": 2 * CLASSES * 4})
        from_binary = np.frombuffer(binary, dtype="<f4").reshape(2, CLASSES)
        from_json = self.probabilities(self.infer({"inputs": [{"name": "input", "datatype": "FP32",
                                                               "shape": list(tensor.shape),
                                                               "data": tensor.ravel().tolist()}]}), 2)
        np.testing.assert_allclose(from_binary, from_json, atol=PROBABILITY_TOLERANCE)

    def test_binary_uint8_input_answers_plain_json(self):
        pixels = np.ascontiguousarray(self.pixels[:2, :, :, None])
        status, headers, answer, binary = self.binary_infer(
            {"inputs": [{"name": "input", "datatype": "UINT8", "shape": list(pixels.shape),
                         "parameters": {"binary_data_size": pixels.nbytes}}]}, pixels.tobytes())
        self.assertEqual(status, 200, answer)
        self.assertIsNone(headers["Inference-Header-Content-Length"])  # no binary output asked for
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        self.assertEqual(binary, b"")
        from_png = self.probabilities(self.infer({"inputs": [self.bytes_input(self.pngs[:2])]}), 2)
        np.testing.assert_allclose(self.probabilities(answer, 2), from_png, atol=PROBABILITY_TOLERANCE)

    def test_binary_bytes_png_with_binary_data_output(self):
        image = self.pngs[0]
        element = struct.pack("<I", len(image)) + image
        status, _, answer, binary = self.binary_infer(
            {"parameters": {"binary_data_output": True},
             "inputs": [{"name": "input", "datatype": "BYTES", "shape": [1],
                         "parameters": {"binary_data_size": len(element)}}]}, element)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["outputs"][0]["parameters"], {"binary_data_size": CLASSES * 4})
        from_binary = np.frombuffer(binary, dtype="<f4")
        from_png = self.probabilities(self.infer({"inputs": [self.bytes_input([image])]}), 1)[0]
        np.testing.assert_allclose(from_binary, from_png, atol=PROBABILITY_TOLERANCE)
        # The classification output as binary BYTES: length-prefixed "score:index:label" strings.
        status, _, answer, binary = self.binary_infer(
            {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1],
                         "parameters": {"binary_data_size": len(element)}}],
             "outputs": [{"name": "probabilities", "parameters": {"classification": 2, "binary_data": True}}]},
            element)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["outputs"][0]["datatype"], "BYTES")
        length = struct.unpack("<I", binary[:4])[0]
        self.assertTrue(binary[4:4 + length].decode().endswith(":9:Ankle boot"), binary)

    def test_binary_extension_errors_are_400_naming_the_problem(self):
        path = f"/v2/models/{MODEL}/infer"
        element = struct.pack("<I", len(self.pngs[0])) + self.pngs[0]
        header = json.dumps({"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1],
                                         "parameters": {"binary_data_size": len(element)}}]}).encode()
        # Binary data after JSON without the header: said as such, not as a JSON syntax error.
        message = self.assert_error("POST", path, 400, "looks like a JSON header followed by binary tensor data",
                                    "Inference-Header-Content-Length", raw=header + element)
        self.assertNotIn("syntax error", message)
        for value, expected in [("abc", "'abc' is not a byte count"), ("-5", "is not a byte count"),
                                (str(len(header) + len(element) + 1), "is beyond the end of the")]:
            status, _, body = self.call("POST", path, header + element, "application/octet-stream",
                                        {"Inference-Header-Content-Length": value})
            self.assertEqual(status, 400, body)
            self.assertIn(expected, json.loads(body)["error"])
        # Sizes that do not add up to the body, either way; binary_data_size with data; a JSON header cut short.
        for binary, expected in [(element[:-1], "inputs[0] ('input') has parameters.binary_data_size"),
                                 (element + b"x", "add up to " + str(len(element)))]:
            status, _, body = self.call("POST", path, header + binary, None,
                                        {"Inference-Header-Content-Length": str(len(header))})
            self.assertEqual(status, 400, body)
            self.assertIn(expected, json.loads(body)["error"])
        self.assert_error("POST", path, 400, "has both \"data\" and parameters.binary_data_size",
                          payload={"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1], "data": ["x"],
                                               "parameters": {"binary_data_size": 1}}]})
        status, _, body = self.call("POST", path, header + element, None,
                                    {"Inference-Header-Content-Length": str(len(header) - 1)})
        self.assertEqual(status, 400, body)
        self.assertIn(f"the first {len(header) - 1} bytes of the body", json.loads(body)["error"])
        self.assert_error("POST", path, 400, "binary_data must be true or false",
                          payload={"inputs": [self.bytes_input(self.pngs[:1])],
                                   "outputs": [{"name": "probabilities", "parameters": {"binary_data": "yes"}}]})

    def test_gzip_and_deflate_request_bodies(self):
        payload = json.dumps({"inputs": [self.bytes_input(self.pngs[:2])]}).encode()
        expected = self.probabilities(self.infer({"inputs": [self.bytes_input(self.pngs[:2])]}), 2)
        for encoding, body in [("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload)),
                               ("deflate", zlib.compress(payload)[2:-4])]:  # raw deflate, as some clients send
            status, _, answer = self.call("POST", f"/v2/models/{MODEL}/infer", body, "application/json",
                                          {"Content-Encoding": encoding})
            self.assertEqual(status, 200, answer)
            np.testing.assert_allclose(self.probabilities(json.loads(answer), 2), expected,
                                       atol=PROBABILITY_TOLERANCE)
        # The binary extension compressed as a whole, as tritonclient does with request_compression_algorithm.
        tensor = self.fp32_images(1)
        header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                         "parameters": {"binary_data_size": tensor.nbytes}}]}).encode()
        status, _, answer = self.call("POST", f"/v2/models/{MODEL}/infer", gzip.compress(header + tensor.tobytes()),
                                      None, {"Content-Encoding": "gzip",
                                             "Inference-Header-Content-Length": str(len(header))})
        self.assertEqual(status, 200, answer)
        self.probabilities(json.loads(answer), 1)

    def test_accept_encoding_compresses_responses(self):
        payload = json.dumps({"inputs": [self.bytes_input(self.pngs[:1])]}).encode()
        plain = json.loads(self.call("POST", f"/v2/models/{MODEL}/infer", payload, "application/json")[2])
        for encoding, decode in [("gzip", gzip.decompress), ("deflate", zlib.decompress)]:
            status, headers, body = self.call("POST", f"/v2/models/{MODEL}/infer", payload, "application/json",
                                              {"Accept-Encoding": encoding})
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["Content-Encoding"], encoding)
            self.assertEqual(json.loads(decode(body)), plain)
        # Binary outputs too: Inference-Header-Content-Length counts the decoded body.
        status, headers, body = self.call("POST", f"/v2/models/{MODEL}/infer",
                                          json.dumps({"inputs": [self.bytes_input(self.pngs[:1])],
                                                      "parameters": {"binary_data_output": True}}).encode(),
                                          "application/json", {"Accept-Encoding": "gzip"})
        self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
        body = gzip.decompress(body)
        split = int(headers["Inference-Header-Content-Length"])
        self.assertEqual(len(body) - split, json.loads(body[:split])["outputs"][0]["parameters"]["binary_data_size"])
        # No Accept-Encoding, or one the server does not speak: identity.
        for accept in (None, "br"):
            status, headers, _ = self.call("GET", "/v2", headers={"Accept-Encoding": accept} if accept else None)
            self.assertEqual((status, headers["Content-Encoding"]), (200, None))

    def test_zip_bomb_unknown_and_corrupt_encodings_are_refused(self):
        path = f"/v2/models/{MODEL}/infer"
        bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB in about 64 KiB
        self.assertLess(len(bomb), MAX_MESSAGE_BYTES)
        start = time.monotonic()
        status, _, body = self.call("POST", path, bomb, "application/json", {"Content-Encoding": "gzip"})
        elapsed = time.monotonic() - start
        self.assertEqual(status, 413, body)
        self.assertIn(f"decoded gzip request body is larger than the limit of {MAX_MESSAGE_BYTES} bytes",
                      json.loads(body)["error"])
        self.assertLess(elapsed, 10, "the server inflated far past the limit before refusing")
        status, _, body = self.call("POST", path, b"{}", "application/json", {"Content-Encoding": "br"})
        self.assertEqual(status, 415, body)
        self.assertIn("Content-Encoding 'br' is not supported", json.loads(body)["error"])
        status, _, body = self.call("POST", path, gzip.compress(b'{"inputs": []}')[:-6], "application/json",
                                    {"Content-Encoding": "gzip"})
        self.assertEqual(status, 400, body)
        self.assertIn("gzip request body ends before its compressed data does", json.loads(body)["error"])
        status, _, body = self.call("POST", path, b"not deflate at all", "application/json",
                                    {"Content-Encoding": "deflate"})
        self.assertEqual(status, 400, body)
        self.assertIn("not valid deflate data", json.loads(body)["error"])

    # Localization (Fovea extension)

    def test_localize_each_method_returns_an_overlay(self):
        for method in ("cam", "grad-cam", "dense", "auto"):
            with self.subTest(method=method):
                answer = self.call_json("POST", f"/v2/models/{MODEL}/localize?method={method}&classes=9",
                                        raw=self.pngs[0], content_type="image/png")
                self.assertEqual(answer["method"], "cam" if method == "auto" else method)
                self.assertEqual((answer["image_width"], answer["image_height"]), (28, 28))
                self.assertEqual(len(answer["heatmaps"]), 1)
                heatmap = answer["heatmaps"][0]
                self.assertEqual((heatmap["class_index"], heatmap["label"]), (9, "Ankle boot"))
                self.assertEqual(len(heatmap["values"]), heatmap["width"] * heatmap["height"])
                self.assertEqual(png_size(base64.b64decode(heatmap["overlay_png"])), (28, 28))
                if method != "dense":
                    self.assertEqual(answer["predictions"][0]["label"], "Ankle boot")

    def test_localize_without_overlays_and_with_options(self):
        answer = self.call_json("POST", f"/v2/models/{MODEL}/versions/{VERSION}/localize?method=dense&stride=4&threshold=0.9"
                                        "&nms_iou=0.5&overlays=false", raw=self.pngs[0],
                                content_type="application/octet-stream")
        self.assertEqual(len(answer["heatmaps"]), CLASSES)  # every class: the model has few and no background class
        self.assertNotIn("overlay_png", answer["heatmaps"][0])
        for detection in answer["detections"]:
            self.assertGreaterEqual(detection["score"], 0.9)
        # top_k=3: the 3 best classes; with maps=png each map is an 8-bit gray PNG scaled by value_min..max.
        answer = self.call_json("POST", f"/v2/models/{MODEL}/localize?method=dense&overlays=false&maps=png&top_k=3",
                                raw=self.pngs[0], content_type="image/png")
        self.assertEqual(len(answer["heatmaps"]), 3)
        heatmap = answer["heatmaps"][0]
        self.assertEqual(heatmap["values"], [])
        self.assertEqual(png_size(base64.b64decode(heatmap["values_png"])), (heatmap["width"], heatmap["height"]))
        self.assertLessEqual(heatmap["value_min"], heatmap["value_max"])

    def test_localize_explains_a_named_layer(self):
        # maxpool4: the first max pooling's 14x14 output; naming a layer selects Grad-CAM under auto.
        answer = self.call_json("POST", f"/v2/models/{MODEL}/localize?layer=maxpool4&classes=9", raw=self.pngs[0],
                                content_type="image/png")
        self.assertEqual(answer["method"], "grad-cam")
        self.assertEqual((answer["heatmaps"][0]["width"], answer["heatmaps"][0]["height"]), (14, 14))
        self.assert_error("POST", f"/v2/models/{MODEL}/localize?layer=nope", 400, "layer 'nope'", raw=self.pngs[0],
                          content_type="image/png")

    def test_localize_errors(self):
        path = f"/v2/models/{MODEL}/localize"
        image = self.pngs[0]
        self.assert_error("POST", path + "?method=saliency", 400, "not one of auto, cam, grad-cam, dense", raw=image,
                          content_type="image/png")
        self.assert_error("POST", path + "?classes=10", 400, "class index 10", raw=image, content_type="image/png")
        self.assert_error("POST", path + "?threshold=2", 400, "outside [0, 1]", raw=image, content_type="image/png")
        self.assert_error("POST", path + "?stride=x", 400, "not a number", raw=image, content_type="image/png")
        self.assert_error("POST", path + "?top_k=0", 400, "top_k 0 is below 1", raw=image, content_type="image/png")
        self.assert_error("POST", path + "?maps=jpeg", 400, "must be float or png", raw=image, content_type="image/png")
        self.assert_error("POST", path + "?color=red", 400, "unknown query parameter 'color'", raw=image,
                          content_type="image/png")
        self.assert_error("POST", path, 400, "encoded PNG or JPEG image as the body", payload={"image": "x"})
        self.assert_error("POST", path, 400, "not a PNG or JPEG", raw=b"not an image", content_type="image/png")
        self.assert_error("POST", "/v2/models/no-such-model/localize", 404, raw=image, content_type="image/png")


def ipv6_loopback():
    """True when this machine can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Ipv6AddressTest(unittest.TestCase):
    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback on this machine")
    def test_rest_listens_on_a_bracketed_ipv6_address(self):
        # --address writes an IPv6 host in brackets; the REST port listens on the same host.
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            grpc_port = s.getsockname()[1]
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            http_port = s.getsockname()[1]
        process = subprocess.Popen([ARGS.server_bin, "--address", f"[::1]:{grpc_port}", "--model-repository",
                                    ARGS.models, "--metrics-port", "0", "--http-port", str(http_port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + STARTUP_SECONDS
            status = None
            while time.time() < deadline and process.poll() is None and status != 200:
                try:
                    status = request("GET", f"http://[::1]:{http_port}/v2/health/live")[0]
                except OSError:
                    time.sleep(0.2)
            self.assertEqual(status, 200, "no answer on [::1]")
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 0, err.decode(errors="replace"))


def main():
    global ARGS, VERSION
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--models", required=True, help="model repository with fashion-mnist (the bundled models/)")
    parser.add_argument("--version", required=True, help="the project version ServerMetadata must report")
    ARGS, rest = parser.parse_known_args()
    VERSION = served_version(ARGS.models)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
