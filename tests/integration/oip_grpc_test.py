#!/usr/bin/python3
"""Open Inference Protocol v2 over gRPC, end to end: the real fovea-server on 127.0.0.1, driven by Debian's
python3-grpcio through stubs generated at test time from proto/inference/grpc_service.proto (and fovea.v1's proto, to
compare every answer with Classify on the same images).

Usage: oip_grpc_test.py --server-bin BIN --proto-dir DIR --test-data DIR --version X.Y.Z [unittest args]
"""
import argparse
import importlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import cv2
import grpc
import numpy as np

ARGS = None
STARTUP_SECONDS = 60
RPC_TIMEOUT_SECONDS = 30
PROBABILITY_TOLERANCE = 1e-5


def generate_stubs(proto_dir, out_dir):
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None:
        raise RuntimeError("grpc_python_plugin not found (Debian package protobuf-compiler-grpc)")
    protos = ["inference/model_config.proto", "inference/grpc_service.proto", "fovea/v1/inference.proto"]
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
                    f"--plugin=protoc-gen-grpc={plugin}", *protos], check=True)
    sys.path.insert(0, out_dir)
    return (importlib.import_module("inference.grpc_service_pb2"),
            importlib.import_module("inference.grpc_service_pb2_grpc"),
            importlib.import_module("fovea.v1.inference_pb2"),
            importlib.import_module("fovea.v1.inference_pb2_grpc"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def length_prefixed(elements):
    """BYTES elements as raw contents: each a 4-byte little-endian length, then its bytes."""
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def split_length_prefixed(raw):
    out, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        out.append(raw[offset + 4:offset + 4 + length])
        offset += 4 + length
    return out


def png(rgb_or_gray):
    image = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def rgb_images(count, height, width, seed):
    """Smooth random colour images: a random corner colour each, blended, so the classes differ between images."""
    rng = np.random.RandomState(seed)
    images = []
    for _ in range(count):
        corners = rng.randint(0, 256, size=(2, 2, 3)).astype(np.float32)
        images.append(cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.uint8))
    return np.stack(images)


class Server:
    """The real fovea-server on a free loopback port: by default with the integration test model repository and no
    REST port; raw_outputs_test.py passes its own repository and a REST port."""

    def __init__(self, pb, pb_grpc, server_bin=None, repository=None, http_port=0, extra_args=()):
        self.address = f"127.0.0.1:{free_port()}"
        self.http_address = f"127.0.0.1:{http_port}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [server_bin or ARGS.server_bin, "--address", self.address, "--model-repository",
             repository or os.path.join(ARGS.test_data, "models"), "--metrics-port", "0", "--http-port",
             str(http_port), "--version-policy", "all", *extra_args],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.channel = grpc.insecure_channel(self.address)
        self.stub = pb_grpc.GRPCInferenceServiceStub(self.channel)
        deadline = time.time() + STARTUP_SECONDS
        while time.time() < deadline:
            try:
                if self.stub.ServerReady(pb.ServerReadyRequest(), timeout=1).ready:
                    return
            except grpc.RpcError:
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
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


class OipGrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub_dir = tempfile.mkdtemp(prefix="fovea-oip-stubs-")
        cls.pb, pb_grpc, cls.v1, v1_grpc = generate_stubs(ARGS.proto_dir, cls.stub_dir)
        cls.server = Server(cls.pb, pb_grpc)
        cls.oip = cls.server.stub
        cls.fovea = v1_grpc.InferenceStub(cls.server.channel)

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        shutil.rmtree(cls.stub_dir, ignore_errors=True)
        if exit_code != 0:
            raise AssertionError(f"fovea-server exited {exit_code} on SIGTERM:\n{cls.server.log_text()}")

    # --- helpers -------------------------------------------------------------------------------------------------

    def infer(self, request):
        return self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)

    def assert_rpc_error(self, call, request, code, *message_parts):
        with self.assertRaises(grpc.RpcError) as raised:
            call(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        for part in message_parts:
            self.assertIn(part, raised.exception.details())

    def classify(self, model, images, top_k, version=0):
        """fovea.v1 Classify on `images` (v1.ImageInput list): per image, [(index, label, probability)]."""
        response = self.fovea.Classify(
            self.v1.ClassifyRequest(model_name=model, model_version=version, images=images, top_k=top_k),
            timeout=RPC_TIMEOUT_SECONDS)
        for result in response.results:
            self.assertFalse(result.HasField("error"), result.error.message)
        return [[(p.class_index, p.label, p.probability) for p in r.predictions] for r in response.results]

    def scores(self, response, batch, classes):
        """The one FP32 [batch, classes] output, as the graph computed it."""
        self.assertEqual(len(response.outputs), 1)
        self.assertEqual(response.outputs[0].datatype, "FP32")
        self.assertEqual(list(response.outputs[0].shape), [batch, classes])
        return np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(batch, classes)

    def assert_matches_classify(self, scores, classified, logits=False):
        """ModelInfer's raw scores against Classify's probabilities: the same after a softmax when they are logits."""
        if logits:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = scores / scores.sum(axis=1, keepdims=True)
        else:
            np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-4)  # the graph ends in Softmax
        for row, predictions in zip(scores, classified):
            index, _, probability = predictions[0]
            self.assertEqual(int(np.argmax(row)), index)
            self.assertAlmostEqual(float(row[index]), probability, delta=PROBABILITY_TOLERANCE)

    # --- health and metadata -------------------------------------------------------------------------------------

    def test_server_live_ready_and_metadata(self):
        self.assertTrue(self.oip.ServerLive(self.pb.ServerLiveRequest()).live)
        self.assertTrue(self.oip.ServerReady(self.pb.ServerReadyRequest()).ready)
        metadata = self.oip.ServerMetadata(self.pb.ServerMetadataRequest())
        self.assertEqual(metadata.name, "fovea")
        self.assertEqual(metadata.version, ARGS.version)
        self.assertEqual(list(metadata.extensions),
                         ["classification", "model_configuration", "statistics", "model_repository"])

    def test_model_repository_control_needs_explicit_mode(self):
        self.assert_rpc_error(self.oip.RepositoryModelLoad, self.pb.RepositoryModelLoadRequest(model_name="rgb"),
                              grpc.StatusCode.FAILED_PRECONDITION,
                              "loading model 'rgb' by request needs --model-control-mode explicit")
        self.assert_rpc_error(self.oip.RepositoryModelUnload, self.pb.RepositoryModelUnloadRequest(model_name="rgb"),
                              grpc.StatusCode.FAILED_PRECONDITION, "needs --model-control-mode explicit")
        self.assertTrue(self.oip.ModelReady(self.pb.ModelReadyRequest(name="rgb")).ready)

    def test_methods_fovea_does_not_implement_are_refused_by_name(self):
        for method in ["/inference.GRPCInferenceService/SystemSharedMemoryStatus",
                       "/inference.GRPCInferenceService/CudaSharedMemoryRegister", "/no.Such/Method"]:
            with self.subTest(method):
                call = self.server.channel.unary_unary(method)
                with self.assertRaises(grpc.RpcError) as raised:
                    call(b"", timeout=RPC_TIMEOUT_SECONDS)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                self.assertIn(f"method {method} is not implemented by fovea-server", raised.exception.details())
        self.assertTrue(self.oip.ServerLive(self.pb.ServerLiveRequest()).live)

    def test_model_ready(self):
        ready = lambda name, version="": self.oip.ModelReady(self.pb.ModelReadyRequest(name=name, version=version))
        self.assertTrue(ready("tiny").ready)
        self.assertTrue(ready("tiny", "1").ready)
        self.assertFalse(ready("tiny", "9").ready)
        self.assertFalse(ready("no-such-model").ready)
        self.assertFalse(ready("broken").ready, "a model that failed to load is never ready")
        self.assert_rpc_error(self.oip.ModelReady, self.pb.ModelReadyRequest(name="tiny", version="latest"),
                              grpc.StatusCode.INVALID_ARGUMENT, "model version 'latest' is not a positive integer")

    def test_model_metadata(self):
        metadata = self.oip.ModelMetadata(self.pb.ModelMetadataRequest(name="tiny"))
        self.assertEqual(metadata.name, "tiny")
        self.assertEqual(list(metadata.versions), ["1", "2"])
        self.assertEqual(metadata.platform, "onnx")
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in metadata.inputs],
                         [("input", "FP32", [-1, 1, 28, 28])])
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in metadata.outputs],
                         [("scores", "FP32", [-1, 10])])
        rgb = self.oip.ModelMetadata(self.pb.ModelMetadataRequest(name="rgb", version="1"))
        self.assertEqual(list(rgb.inputs[0].shape), [-1, 3, 16, 16])
        self.assert_rpc_error(self.oip.ModelMetadata, self.pb.ModelMetadataRequest(name="tiny", version="3"),
                              grpc.StatusCode.NOT_FOUND, "has no version 3")
        self.assert_rpc_error(self.oip.ModelMetadata, self.pb.ModelMetadataRequest(name="../tiny"),
                              grpc.StatusCode.INVALID_ARGUMENT, "model name '../tiny' is invalid")

    # --- inference -----------------------------------------------------------------------------------------------

    def test_fp32_raw_contents_match_classify(self):
        rng = np.random.RandomState(5)
        batch = rng.uniform(-2.0, 2.0, size=(4, 1, 28, 28)).astype(np.float32)
        for version in ["1", "2"]:  # version 2 outputs logits: ModelInfer returns them, Classify applies softmax
            request = self.pb.ModelInferRequest(model_name="tiny", model_version=version, id=f"fp32-{version}")
            request.inputs.add(name="input", datatype="FP32", shape=list(batch.shape))
            request.raw_input_contents.append(batch.astype("<f4").tobytes())
            response = self.infer(request)
            self.assertEqual((response.model_name, response.model_version, response.id), ("tiny", version,
                                                                                         f"fp32-{version}"))
            scores = self.scores(response, 4, 10)
            tensors = [self.v1.ImageInput(tensor=self.v1.RawTensor(dtype=self.v1.DATA_TYPE_FLOAT32, shape=[1, 28, 28],
                                                                   data=image.astype("<f4").tobytes()))
                       for image in batch]
            classified = self.classify("tiny", tensors, top_k=1, version=int(version))
            if version == "2":
                self.assertGreater(np.abs(scores.sum(axis=1) - 1.0).max(), 0.1, "logits, not probabilities")
            self.assert_matches_classify(scores, classified, logits=version == "2")

    def test_uint8_typed_contents_match_classify_on_png(self):
        images = rgb_images(5, 20, 24, seed=11)  # not 16x16: the server resizes like a decoded image
        images[0] = (255, 0, 0)  # the test model calls pure red "red" and most other images "blue"
        request = self.pb.ModelInferRequest(model_name="rgb")
        tensor = request.inputs.add(name="input", datatype="UINT8", shape=list(images.shape))
        tensor.contents.uint_contents.extend(images.flatten().tolist())
        scores = self.scores(self.infer(request), 5, 3)
        classified = self.classify("rgb", [self.v1.ImageInput(encoded=png(image)) for image in images], top_k=1)
        self.assert_matches_classify(scores, classified)
        self.assertGreater(len({int(np.argmax(row)) for row in scores}), 1, "the images should not all look alike")

    def test_bytes_png_raw_contents_with_classification(self):
        images = rgb_images(3, 16, 16, seed=3)
        encoded = [png(image) for image in images]
        request = self.pb.ModelInferRequest(model_name="rgb")
        request.inputs.add(name="input", datatype="BYTES", shape=[3])
        request.raw_input_contents.append(length_prefixed(encoded))
        output = request.outputs.add(name="scores")
        output.parameters["classification"].int64_param = 3
        response = self.infer(request)
        self.assertEqual(response.outputs[0].datatype, "BYTES")
        self.assertEqual(list(response.outputs[0].shape), [3, 3])
        strings = [s.decode() for s in split_length_prefixed(response.raw_output_contents[0])]
        self.assertEqual(len(strings), 9)
        classified = self.classify("rgb", [self.v1.ImageInput(encoded=e) for e in encoded], top_k=3)
        for row, predictions in enumerate(classified):
            for rank, (index, label, probability) in enumerate(predictions):
                score, served_index, served_label = strings[row * 3 + rank].split(":")
                self.assertEqual((int(served_index), served_label), (index, label))
                self.assertAlmostEqual(float(score), probability, delta=1e-6)

    def test_classification_count_above_the_classes_is_clamped_like_triton(self):
        request = self.pixel_request()
        request.outputs.add(name="scores").parameters["classification"].int64_param = 11
        response = self.infer(request)
        self.assertEqual(list(response.outputs[0].shape), [1, 10])
        self.assertEqual(len(split_length_prefixed(response.raw_output_contents[0])), 10)

    def test_bytes_jpeg_typed_contents_match_classify(self):
        with open(os.path.join(ARGS.test_data, "images", "sample.jpg"), "rb") as f:
            jpeg = f.read()
        request = self.pb.ModelInferRequest(model_name="rgb")
        request.inputs.add(name="input", datatype="BYTES", shape=[1, 1]).contents.bytes_contents.append(jpeg)
        scores = self.scores(self.infer(request), 1, 3)
        self.assert_matches_classify(scores, self.classify("rgb", [self.v1.ImageInput(encoded=jpeg)], top_k=1))

    def test_stream_answers_every_request_by_id_like_model_infer(self):
        rng = np.random.RandomState(8)
        images = rng.uniform(-2.0, 2.0, size=(6, 1, 1, 28, 28)).astype(np.float32)
        requests = []
        for i, image in enumerate(images):
            request = self.pb.ModelInferRequest(model_name="tiny", id=f"stream-{i}")
            request.inputs.add(name="input", datatype="FP32", shape=list(image.shape))
            request.raw_input_contents.append(image.astype("<f4").tobytes())
            requests.append(request)
        png_request = self.pb.ModelInferRequest(model_name="rgb", id="stream-png")
        png_request.inputs.add(name="input", datatype="BYTES", shape=[1])
        png_request.raw_input_contents.append(length_prefixed([png(rgb_images(1, 16, 16, seed=4)[0])]))
        unknown = self.pixel_request(model="no-such-model")
        unknown.id = "stream-unknown"
        requests[3:3] = [png_request, unknown]
        answers = list(self.oip.ModelStreamInfer(iter(requests), timeout=RPC_TIMEOUT_SECONDS))
        by_id = {answer.infer_response.id: answer for answer in answers}
        self.assertEqual(len(answers), len(requests))
        self.assertEqual(set(by_id), {request.id for request in requests})
        failed = by_id.pop("stream-unknown")
        self.assertIn("model 'no-such-model' not found", failed.error_message)
        self.assertEqual(failed.infer_response.parameters["error_code"].string_param, "NOT_FOUND")
        for request in requests:
            if request.id in by_id:
                self.assertEqual(by_id[request.id].error_message, "")
                # Same scores, not the same bytes: a streamed request may run in a batch of another size than the
                # unary one, and oneDNN's AVX2 kernels sum in another order per batch size (a few ulps apart).
                streamed = by_id[request.id].infer_response.raw_output_contents
                unary = self.infer(request).raw_output_contents
                self.assertEqual(len(streamed), len(unary), request.id)
                for got, want in zip(streamed, unary):
                    np.testing.assert_allclose(np.frombuffer(got, "<f4"), np.frombuffer(want, "<f4"), rtol=1e-5,
                                               atol=1e-7, err_msg=request.id)

    # --- errors --------------------------------------------------------------------------------------------------

    def pixel_request(self, **overrides):
        request = self.pb.ModelInferRequest(model_name=overrides.get("model", "tiny"),
                                            model_version=overrides.get("version", ""))
        shape = overrides.get("shape", [1, 28, 28, 1])
        request.inputs.add(name=overrides.get("name", "input"), datatype=overrides.get("datatype", "UINT8"),
                           shape=shape)
        request.raw_input_contents.append(bytes(int(np.prod(shape))))
        return request

    def test_errors_name_the_problem_and_the_server_keeps_serving(self):
        invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
        cases = [
            (self.pixel_request(model="no-such-model"), not_found, ["model 'no-such-model' not found"]),
            (self.pixel_request(version="7"), not_found, ["model 'tiny' has no version 7"]),
            (self.pixel_request(version="v1"), invalid, ["model version 'v1' is not a positive integer"]),
            (self.pixel_request(datatype="FP32", shape=[1, 1, 32, 32]), invalid,
             ["input 'input' of datatype FP32 must have shape [N, 1, 28, 28], got [1, 1, 32, 32]"]),
            (self.pixel_request(datatype="INT64"), invalid, ["input 'input' has datatype 'INT64'", "expected FP32"]),
            (self.pixel_request(name="image"), invalid, ["unexpected input 'image'", "takes one input, 'input'"]),
            (self.pixel_request(shape=[1, 28, 28, 2]), invalid, ["with 1, 3 or 4 channels"]),
        ]
        truncated = self.pixel_request()
        truncated.raw_input_contents[0] = bytes(10)
        cases.append((truncated, invalid, ["needs 784 bytes in raw_input_contents, got 10"]))
        not_png = self.pixel_request(datatype="BYTES", shape=[1])
        not_png.raw_input_contents[0] = length_prefixed([b"definitely not a png"])
        cases.append((not_png, invalid, ["input 'input' image 0"]))
        bad_k = self.pixel_request()
        bad_k.outputs.add(name="scores").parameters["classification"].int64_param = 0
        cases.append((bad_k, invalid, ["parameter 'classification' is 0; ask for at least 1 class"]))
        unknown_output = self.pixel_request()
        unknown_output.outputs.add(name="probabilities")
        cases.append((unknown_output, invalid, ["unknown output 'probabilities'; model 'tiny' has 'scores'"]))
        for request, code, parts in cases:
            with self.subTest(parts[0]):
                self.assert_rpc_error(self.oip.ModelInfer, request, code, *parts)
        self.assertTrue(self.oip.ServerLive(self.pb.ServerLiveRequest()).live)
        self.scores(self.infer(self.pixel_request()), 1, 10)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--test-data", required=True)
    parser.add_argument("--version", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
