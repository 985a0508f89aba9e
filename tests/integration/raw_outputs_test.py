#!/usr/bin/python3
"""Outputs as the model computes them, end to end: PyTorch models with random weights (a logits classifier, a
multi-label classifier ending in Sigmoid, a model with two heads and a segmentation net returning [N, 21, H, W]) are
exported to ONNX, served by the real fovea-server, and every Open Inference Protocol answer (gRPC and REST) is checked
against PyTorch's own output on the same input, within 1e-4 relative. fovea.v1 Classify turns the same scores into
probabilities: softmax for logits, nothing for a graph that already ends in Sigmoid.

Usage: raw_outputs_test.py --server-bin BIN --proto-dir DIR [unittest args]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import unittest
import urllib.request

import grpc
import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

ARGS = None
RELATIVE_TOLERANCE = 1e-4
ABSOLUTE_TOLERANCE = 1e-5
OPSET = 13
SIZE = (32, 48)  # height, width: not square, so a transposed axis would show
RPC_TIMEOUT_SECONDS = 30


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.features(x)


class Logits(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.backbone, self.head = Backbone(), nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


class MultiLabel(Logits):
    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone, self.classes, self.embedding = Backbone(), nn.Linear(16, 5), nn.Linear(16, 12)

    def forward(self, x):
        features = self.backbone(x)
        return self.classes(features), self.embedding(features)


class Segmenter(nn.Module):
    """A tiny FCN: stride-2 features, 1x1 classifier to 21 classes, bilinear upsampling back to the input's size."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.classifier = nn.Conv2d(16, 21, 1)

    def forward(self, x):
        return nn.functional.interpolate(self.classifier(self.features(x)), size=x.shape[-2:], mode="bilinear",
                                         align_corners=False)


def randomize_batch_norm(model, generator):
    """Running statistics other than 0/1, so that folding BatchNormalization into the convolution is exercised."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


def export(model, path, output_names, labels=None):
    generator = torch.Generator().manual_seed(len(path))
    for parameter in model.parameters():
        parameter.data.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    randomize_batch_norm(model, generator)
    model.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    example = torch.zeros(1, 3, *SIZE)
    torch.onnx.export(model, example, path, opset_version=OPSET, input_names=["input"], output_names=output_names,
                      dynamic_axes={name: {0: "N"} for name in ["input", *output_names]})
    if labels is not None:
        onnx_model = onnx.load(path)
        onnx.helper.set_model_props(onnx_model, {"fovea.labels": "\n".join(labels)})
        onnx.save(onnx_model, path)
    return model


def torch_outputs(model, batch):
    with torch.no_grad():
        outputs = model(torch.from_numpy(batch))
    return [o.numpy() for o in (outputs if isinstance(outputs, tuple) else (outputs,))]


class RawOutputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="fovea-raw-outputs-")
        repository = os.path.join(cls.workdir, "models")
        torch.manual_seed(0)
        labels = [f"class-{i}" for i in range(10)]
        cls.models = {
            "logits": export(Logits(), f"{repository}/logits/1/model.onnx", ["logits"], labels),
            "multilabel": export(MultiLabel(), f"{repository}/multilabel/1/model.onnx", ["probabilities"], labels),
            "two_heads": export(TwoHeads(), f"{repository}/two_heads/1/model.onnx", ["class_logits", "embedding"]),
            "segment": export(Segmenter(), f"{repository}/segment/1/model.onnx", ["out"]),
        }
        cls.stub_dir = os.path.join(cls.workdir, "stubs")
        os.makedirs(cls.stub_dir)
        cls.pb, pb_grpc, cls.v1, v1_grpc = harness.generate_stubs(ARGS.proto_dir, cls.stub_dir)
        cls.server = harness.Server(cls.pb, pb_grpc, server_bin=ARGS.server_bin, repository=repository,
                                    http_port=harness.free_port())
        cls.oip = cls.server.stub
        cls.fovea = v1_grpc.InferenceStub(cls.server.channel)
        cls.batch = np.random.RandomState(3).uniform(-1.0, 1.0, size=(3, 3, *SIZE)).astype(np.float32)

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        if exit_code != 0:
            raise AssertionError(f"fovea-server exited {exit_code} on SIGTERM:\n{cls.server.log_text()}")

    # --- helpers -------------------------------------------------------------------------------------------------

    def request(self, model, outputs=(), batch=None):
        batch = self.batch if batch is None else batch
        request = self.pb.ModelInferRequest(model_name=model)
        request.inputs.add(name="input", datatype="FP32", shape=list(batch.shape))
        request.raw_input_contents.append(batch.astype("<f4").tobytes())
        for name in outputs:
            request.outputs.add(name=name)
        return request

    def infer(self, request):
        response = self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)
        return {o.name: np.frombuffer(raw, "<f4").reshape(list(o.shape)) if o.datatype == "FP32" else (o, raw)
                for o, raw in zip(response.outputs, response.raw_output_contents)}

    def assert_close_to_torch(self, served, expected):
        self.assertEqual(served.shape, expected.shape)
        np.testing.assert_allclose(served, expected, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE)

    def classify(self, model, batch):
        images = [self.v1.ImageInput(tensor=self.v1.RawTensor(dtype=self.v1.DATA_TYPE_FLOAT32, shape=list(image.shape),
                                                              data=image.astype("<f4").tobytes()))
                  for image in batch]
        return self.fovea.Classify(self.v1.ClassifyRequest(model_name=model, images=images, top_k=10),
                                   timeout=RPC_TIMEOUT_SECONDS)

    def assert_rpc_error(self, call, request, code, *parts):
        with self.assertRaises(grpc.RpcError) as raised:
            call(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        for part in parts:
            self.assertIn(part, raised.exception.details())

    # --- the tests -----------------------------------------------------------------------------------------------

    def test_logits_come_back_as_pytorch_computes_them(self):
        (expected,) = torch_outputs(self.models["logits"], self.batch)
        served = self.infer(self.request("logits"))
        self.assertEqual(list(served), ["logits"])
        self.assert_close_to_torch(served["logits"], expected)
        self.assertGreater(np.abs(expected.sum(axis=1) - 1.0).max(), 0.1, "the test model must output logits")

    def test_classify_gives_the_softmax_of_the_same_logits(self):
        (logits,) = torch_outputs(self.models["logits"], self.batch)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        for row, result in enumerate(self.classify("logits", self.batch).results):
            self.assertFalse(result.HasField("error"), result.error.message)
            for prediction in result.predictions:
                self.assertAlmostEqual(prediction.probability, probabilities[row, prediction.class_index], delta=1e-5)
            self.assertEqual(result.predictions[0].class_index, int(np.argmax(logits[row])))

    def test_classification_ranks_raw_logits_and_clamps_the_count(self):
        (logits,) = torch_outputs(self.models["logits"], self.batch)
        request = self.request("logits")
        request.outputs.add(name="logits").parameters["classification"].int64_param = 50
        response = self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual((response.outputs[0].datatype, list(response.outputs[0].shape)), ("BYTES", [3, 10]))
        strings = [s.decode() for s in harness.split_length_prefixed(response.raw_output_contents[0])]
        for row in range(3):
            entries = [s.split(":") for s in strings[row * 10:(row + 1) * 10]]
            order = np.argsort(-logits[row], kind="stable")
            self.assertEqual([int(index) for _, index, _ in entries], order.tolist())
            self.assertEqual([label for _, _, label in entries], [f"class-{i}" for i in order])
            np.testing.assert_allclose([float(value) for value, _, _ in entries], logits[row][order], rtol=1e-4,
                                       atol=1e-5)

    def test_multilabel_sigmoid_outputs_are_returned_and_classified_unchanged(self):
        (expected,) = torch_outputs(self.models["multilabel"], self.batch)
        self.assert_close_to_torch(self.infer(self.request("multilabel"))["probabilities"], expected)
        self.assertGreater(np.abs(expected.sum(axis=1) - 1.0).max(), 0.1, "independent labels, not a softmax")
        for row, result in enumerate(self.classify("multilabel", self.batch).results):
            for prediction in result.predictions:
                self.assertAlmostEqual(prediction.probability, expected[row, prediction.class_index], delta=1e-5)

    def test_two_outputs_all_by_default_or_those_requested(self):
        class_logits, embedding = torch_outputs(self.models["two_heads"], self.batch)
        served = self.infer(self.request("two_heads"))
        self.assertEqual(list(served), ["class_logits", "embedding"])
        self.assert_close_to_torch(served["class_logits"], class_logits)
        self.assert_close_to_torch(served["embedding"], embedding)
        only = self.infer(self.request("two_heads", outputs=["embedding"]))
        self.assertEqual(list(only), ["embedding"])
        self.assert_close_to_torch(only["embedding"], embedding)
        metadata = self.oip.ModelMetadata(self.pb.ModelMetadataRequest(name="two_heads"))
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in metadata.outputs],
                         [("class_logits", "FP32", [-1, 5]), ("embedding", "FP32", [-1, 12])])

    def test_segmentation_returns_a_map_per_class_at_the_input_size(self):
        (expected,) = torch_outputs(self.models["segment"], self.batch)
        served = self.infer(self.request("segment"))["out"]
        self.assertEqual(list(served.shape), [3, 21, *SIZE])
        self.assert_close_to_torch(served, expected)
        metadata = self.oip.ModelMetadata(self.pb.ModelMetadataRequest(name="segment"))
        self.assertEqual([(t.name, list(t.shape)) for t in metadata.outputs], [("out", [-1, 21, *SIZE])])

    def test_rest_returns_every_output_as_computed(self):
        class_logits, embedding = torch_outputs(self.models["two_heads"], self.batch[:1])
        body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, *SIZE],
                                       "data": self.batch[:1].flatten().tolist()}]}).encode()
        request = urllib.request.Request(f"http://{self.server.http_address}/v2/models/two_heads/infer", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS) as answer:
            outputs = {o["name"]: o for o in json.load(answer)["outputs"]}
        self.assertEqual(list(outputs), ["class_logits", "embedding"])
        self.assertEqual(outputs["embedding"]["shape"], [1, 12])
        self.assert_close_to_torch(np.array(outputs["class_logits"]["data"], np.float32).reshape(1, 5), class_logits)
        self.assert_close_to_torch(np.array(outputs["embedding"]["data"], np.float32).reshape(1, 12), embedding)

    def test_errors_name_the_model_the_output_and_the_way_out(self):
        failed = grpc.StatusCode.FAILED_PRECONDITION
        self.assert_rpc_error(self.fovea.Classify,
                              self.v1.ClassifyRequest(model_name="segment", images=[self.v1.ImageInput(encoded=b"x")]),
                              failed, "model 'segment' version 1 is not a classifier",
                              "first output 'out' is float32 [-1, 21, 32, 48]", "ask ModelInfer for its outputs")
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        self.assert_rpc_error(self.oip.ModelInfer, self.request("two_heads", outputs=["logits"]), invalid,
                              "unknown output 'logits'; model 'two_heads' has 'class_logits', 'embedding'")
        self.assert_rpc_error(self.oip.ModelInfer, self.request("two_heads", outputs=["embedding", "embedding"]),
                              invalid, "output 'embedding' is requested more than once")
        map_classification = self.request("segment")
        map_classification.outputs.add(name="out").parameters["classification"].int64_param = 3
        self.assert_rpc_error(self.oip.ModelInfer, map_classification, invalid,
                              "classification ranks an FP32 [N, K] or [N, K, 1, 1] output, and 'out' is FP32 "
                              "[-1, 21, 32, 48]")
        self.assert_rpc_error(self.oip.ModelInfer, self.request("no-such-model"), grpc.StatusCode.NOT_FOUND,
                              "model 'no-such-model' not found")
        # Still serving.
        self.assertIn("embedding", self.infer(self.request("two_heads")))


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--proto-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
