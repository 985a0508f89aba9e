#!/usr/bin/python3
"""A Triton model repository served unchanged, end to end: `config.pbtxt` + `labels.txt` + `1/model.onnx` written the
way Triton's documentation shows, for a torchvision ResNet-18 (seeded random weights) preprocessed like torchvision's
ImageNet eval transform (shorter side 256, centre crop 224, mean/std) through the configuration's parameters.

Checks: the model serves; its ModelConfig answer is the effective configuration and round-trips through text format;
the fields Fovea does not implement are logged by name; bad configurations (syntax error, dims that contradict the
model, a label file with the wrong line count, an unknown platform) fail their model's load with a clear error, in
RepositoryModelLoad's answer and in the log, while the good model keeps serving; and Classify on JPEGs of varied sizes
ranks like PyTorch's eval pipeline on the same files (top-5 identical), with the preprocessed tensor itself compared
with torchvision's through an identity-like model; and an NHWC model (config.pbtxt `format: FORMAT_NHWC`) serves
channels-last FP32 and image inputs.

Usage: triton_repository_test.py --server-bin BIN --proto-dir DIR [unittest args]
"""
import argparse
import importlib
import os
import shutil
import sys
import tempfile
import unittest

import cv2
import grpc
import numpy as np
import torch
import torchvision
from google.protobuf import text_format
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

ARGS = None
RPC_TIMEOUT_SECONDS = 120
OPSET = 13
SEED = 2024
CLASSES = 1000
IMAGES = 20
TOP_K = 5
# The torchvision eval transform for ImageNet weights.
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
EVAL_TRANSFORM = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                     transforms.Normalize(MEAN, STD)])
# One 8-bit step after normalization is 1 / (255 * 0.225) = 0.0174; the server's resize reproduces PIL's fixed-point
# filter, so anything near a step would be a real difference, not rounding.
MAX_PREPROCESSING_DIFFERENCE = 1e-4

PARAMETERS = """parameters: [
  { key: "mean" value: { string_value: "0.485,0.456,0.406" } },
  { key: "std" value: { string_value: "0.229,0.224,0.225" } },
  { key: "resize_mode" value: { string_value: "crop" } },
  { key: "resize_shorter_side" value: { string_value: "256" } }
]"""

# As Triton's model-configuration documentation writes an ONNX classifier, plus Fovea's parameters and two sections
# Fovea does not implement (logged by name).
RESNET_CONFIG = """name: "resnet"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "input"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
  }
]
output [
  {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    label_filename: "labels.txt"
  }
]
version_policy: { latest: { num_versions: 1 } }
dynamic_batching {
  preferred_batch_size: [ 4 ]
  max_queue_delay_microseconds: 200
}
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
optimization { execution_accelerators { cpu_execution_accelerator: [ { name: "openvino" } ] } }
model_warmup [ { name: "zeros" batch_size: 1 inputs { key: "input" value: { zero_data: true dims: [ 3, 224, 224 ] } } } ]
""" + PARAMETERS + "\n"


class Flat(torch.nn.Module):
    """The model input, flattened: ModelInfer then returns the preprocessed image the server computed."""

    def forward(self, x):
        return torch.flatten(x, 1)


class Tiny(torch.nn.Module):
    """A 10-class classifier on 3 x 32 x 32, for the error cases (fast to load)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1), 1))


class ChannelsLast(Tiny):
    """Tiny on an NHWC input [N, 32, 32, 3], as a model exported from TensorFlow takes it."""

    def forward(self, x):
        return super().forward(x.permute(0, 3, 1, 2))


def export(model, path, size, output_name, nhwc=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    example = torch.zeros(1, size, size, 3) if nhwc else torch.zeros(1, 3, size, size)
    torch.onnx.export(model, example, path, opset_version=OPSET, input_names=["input"],
                      output_names=[output_name], dynamic_axes={"input": {0: "N"}, output_name: {0: "N"}})


def resnet18():
    """ResNet-18 with seeded random weights and batch-norm statistics that keep activations in range."""
    torch.manual_seed(SEED)
    model = torchvision.models.resnet18(num_classes=CLASSES)
    generator = torch.Generator().manual_seed(SEED)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def jpegs(folder):
    """IMAGES JPEG files of varied sizes and aspect ratios (portrait, landscape, square, smaller than the crop)."""
    os.makedirs(folder)
    rng = np.random.RandomState(SEED)
    sizes = [(480, 640), (640, 480), (300, 300), (200, 150), (1000, 333), (333, 1000), (257, 256), (224, 224),
             (180, 320), (720, 405), (500, 499), (123, 456), (456, 123), (256, 600), (768, 512), (240, 240),
             (350, 260), (612, 408), (400, 900), (230, 231)]
    paths = []
    for i, (height, width) in enumerate(sizes[:IMAGES]):
        # Smooth colour fields with shapes and noise: structure at several scales, so resizing matters.
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        image = np.stack([128 + 100 * np.sin(x / (7 + 3 * c + i) + y / (11 + c)) for c in range(3)], axis=-1)
        for _ in range(6):
            center = (int(rng.randint(0, width)), int(rng.randint(0, height)))
            color = tuple(int(v) for v in rng.randint(0, 256, 3))
            cv2.circle(image, center, int(rng.randint(5, max(6, min(height, width) // 3))), color, -1)
        image += rng.normal(0, 12, image.shape)
        path = os.path.join(folder, f"image_{i:02d}_{width}x{height}.jpg")
        cv2.imwrite(path, np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def read(path):
    with open(path, "rb") as f:
        return f.read()


def torch_reference(path):
    with Image.open(path) as image:
        return EVAL_TRANSFORM(image.convert("RGB"))


class TritonRepositoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="fovea-triton-repository-")
        stubs = os.path.join(cls.work, "stubs")
        os.makedirs(stubs)
        cls.pb, pb_grpc, cls.v1, v1_grpc = harness.generate_stubs(ARGS.proto_dir, stubs)
        cls.config_pb = importlib.import_module("inference.model_config_pb2")
        repository = os.path.join(cls.work, "models")
        cls.model = resnet18()
        export(cls.model, f"{repository}/resnet/1/model.onnx", 224, "logits")
        write(f"{repository}/resnet/config.pbtxt", RESNET_CONFIG)
        write(f"{repository}/resnet/labels.txt", "".join(f"class {i}\n" for i in range(CLASSES)))
        export(Flat(), f"{repository}/preprocessing/1/model.onnx", 224, "pixels")
        write(f"{repository}/preprocessing/config.pbtxt", f'max_batch_size: 4\n{PARAMETERS}\n')
        cls.write_broken_models(repository)
        cls.nhwc = ChannelsLast().eval()
        export(cls.nhwc, f"{repository}/nhwc/1/model.onnx", 32, "logits", nhwc=True)
        write(f"{repository}/nhwc/config.pbtxt",
              'max_batch_size: 4\ninput [ { name: "input" format: FORMAT_NHWC dims: [ 32, 32, 3 ] } ]\n')
        cls.images = jpegs(os.path.join(cls.work, "images"))
        cls.server = harness.Server(cls.pb, pb_grpc, server_bin=ARGS.server_bin, repository=repository,
                                    extra_args=["--model-control-mode", "explicit", "--load-model", "resnet",
                                                "--load-model", "preprocessing", "--load-model", "nhwc",
                                                "--max-batch-size", "8"])
        cls.oip = cls.server.stub
        cls.fovea = v1_grpc.InferenceStub(cls.server.channel)

    @classmethod
    def write_broken_models(cls, repository):
        tiny = Tiny().eval()
        good = 'max_batch_size: 4\ninput [ { name: "input" data_type: TYPE_FP32 dims: [ 3, 32, 32 ] } ]\n'
        cases = {
            "bad_syntax": 'name: "bad_syntax"\nmax_batch_size: 4\ninput [ { name: "input" dims: [ 3, 32 32 ] } ]\n',
            "bad_dims": 'max_batch_size: 4\ninput [ { name: "input" dims: [ 3, 299, 299 ] } ]\n',
            "bad_labels": good + 'output [ { name: "logits" label_filename: "labels.txt" } ]\n',
            "bad_platform": 'platform: "tensorflow_savedmodel"\n',
            "bad_name": 'name: "someone_else"\n',
        }
        for name, config in cases.items():
            export(tiny, f"{repository}/{name}/1/model.onnx", 32, "logits")
            write(f"{repository}/{name}/config.pbtxt", config)
        write(f"{repository}/bad_labels/labels.txt", "".join(f"c{i}\n" for i in range(9)))

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        shutil.rmtree(cls.work, ignore_errors=True)
        if exit_code != 0:
            raise AssertionError(f"fovea-server exited {exit_code} on SIGTERM:\n{cls.server.log_text()}")

    def model_config(self, name):
        return self.oip.ModelConfig(self.pb.ModelConfigRequest(name=name), timeout=RPC_TIMEOUT_SECONDS).config

    def test_triton_repository_serves_and_its_model_config_round_trips(self):
        config = self.model_config("resnet")
        # What config.pbtxt says is kept as written ...
        self.assertEqual((config.name, config.platform, config.max_batch_size), ("resnet", "onnxruntime_onnx", 8))
        self.assertEqual([(i.name, i.data_type, i.format, list(i.dims)) for i in config.input],
                         [("input", self.config_pb.TYPE_FP32, self.config_pb.ModelInput.FORMAT_NCHW, [3, 224, 224])])
        self.assertEqual([(o.name, list(o.dims), o.label_filename) for o in config.output],
                         [("logits", [1000], "labels.txt")])
        self.assertEqual(list(config.dynamic_batching.preferred_batch_size), [4])
        self.assertEqual(config.dynamic_batching.max_queue_delay_microseconds, 200)
        self.assertEqual(config.version_policy.latest.num_versions, 1)
        self.assertEqual(config.parameters["resize_mode"].string_value, "crop")
        # ... and what it leaves out is what the model and the flags resolve.
        self.assertEqual(config.backend, "onnxruntime")
        self.assertGreater(config.dynamic_batching.default_queue_policy.max_queue_size, 0)
        self.assertEqual(config.parameters["scores"].string_value, "softmax")
        self.assertEqual(config.parameters["channel_order"].string_value, "RGB")
        text = text_format.MessageToString(config)
        self.assertEqual(text_format.Parse(text, self.config_pb.ModelConfig()), config, text)
        # The labels of labels.txt are the model's.
        response = self.fovea.Classify(self.v1.ClassifyRequest(model_name="resnet", images=[
            self.v1.ImageInput(encoded=read(self.images[0]))], top_k=1), timeout=RPC_TIMEOUT_SECONDS)
        prediction = response.results[0].predictions[0]
        self.assertEqual(prediction.label, f"class {prediction.class_index}")

    def test_fields_fovea_does_not_implement_are_logged_by_name(self):
        log = self.server.log_text()
        line = RESNET_CONFIG.splitlines().index(next(l for l in RESNET_CONFIG.splitlines() if l.startswith("optim"))) + 1
        for field in (f"ModelConfig.optimization (line {line})", "model_warmup"):
            self.assertIn(f"sets {field}, which fovea-server does not implement", log)

    def test_bad_configurations_fail_their_model_with_a_clear_error(self):
        cases = {
            "bad_syntax": ['bad_syntax/config.pbtxt:3:39: Expected ",", found "32".'],
            "bad_dims": ["input 'input': config.pbtxt dims [3, 299, 299] but the model has [3, 32, 32]"],
            "bad_labels": ["labels.txt", "9 labels but output 'logits'"],
            "bad_platform": ["platform: 'tensorflow_savedmodel' is not served"],
            "bad_name": ["name: 'someone_else' differs from the model's folder name 'bad_name'"],
        }
        for name, parts in cases.items():
            with self.subTest(model=name):
                with self.assertRaises(grpc.RpcError) as raised:
                    self.oip.RepositoryModelLoad(self.pb.RepositoryModelLoadRequest(model_name=name),
                                                 timeout=RPC_TIMEOUT_SECONDS)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
                for part in parts:
                    self.assertIn(part, raised.exception.details())
                    self.assertIn(part, self.server.log_text())  # the poller logs the same reason
        ready = self.oip.RepositoryIndex(self.pb.RepositoryIndexRequest(ready=True), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(sorted(m.name for m in ready.models), ["nhwc", "preprocessing", "resnet"])
        # The whole index lists every model folder; a model whose configuration is refused is listed as not loaded
        # (its reason is in the load answer and the log, above).
        index = self.oip.RepositoryIndex(self.pb.RepositoryIndexRequest(), timeout=RPC_TIMEOUT_SECONDS)
        for name in cases:
            with self.subTest(index=name):
                (row,) = [m for m in index.models if m.name == name]
                self.assertNotEqual(row.state, "READY")
        self.assertTrue(self.oip.ModelReady(self.pb.ModelReadyRequest(name="resnet")).ready)

    def test_an_nhwc_model_serves_channels_last(self):
        metadata = self.oip.ModelMetadata(self.pb.ModelMetadataRequest(name="nhwc"), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(list(metadata.inputs[0].shape), [-1, 32, 32, 3])
        pixels = torch.rand(2, 32, 32, 3, generator=torch.Generator().manual_seed(SEED))
        request = self.pb.ModelInferRequest(model_name="nhwc")
        request.inputs.add(name="input", datatype="FP32", shape=[2, 32, 32, 3])
        request.raw_input_contents.append(pixels.numpy().tobytes())
        response = self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)
        served = np.frombuffer(response.raw_output_contents[0], dtype=np.float32).reshape(2, 10)
        with torch.no_grad():
            expected = self.nhwc(pixels).numpy()
        self.assertLess(float(np.abs(served - expected).max()), 1e-4)
        # An image becomes the same channels-last tensor: its interleaved pixels / 255, no mean/std configured.
        image = (np.arange(32 * 32 * 3) % 251).astype(np.uint8).reshape(1, 32, 32, 3)
        request = self.pb.ModelInferRequest(model_name="nhwc")
        request.inputs.add(name="input", datatype="UINT8", shape=[1, 32, 32, 3])
        request.raw_input_contents.append(image.tobytes())
        response = self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)
        with torch.no_grad():
            expected = self.nhwc(torch.from_numpy(image.astype(np.float32) / 255)).numpy()
        served = np.frombuffer(response.raw_output_contents[0], dtype=np.float32).reshape(1, 10)
        self.assertLess(float(np.abs(served - expected).max()), 1e-4)

    def test_preprocessing_matches_torchvision(self):
        worst = 0.0
        for path in self.images:
            request = self.pb.ModelInferRequest(model_name="preprocessing")
            request.inputs.add(name="input", datatype="BYTES", shape=[1])
            request.raw_input_contents.append(harness.length_prefixed([read(path)]))
            response = self.oip.ModelInfer(request, timeout=RPC_TIMEOUT_SECONDS)
            served = np.frombuffer(response.raw_output_contents[0], dtype=np.float32)
            reference = torch_reference(path).numpy().reshape(-1)
            worst = max(worst, float(np.abs(served - reference).max()))
        print(f"\npreprocessing: max |fovea - torchvision| over {len(self.images)} JPEGs = {worst:.3g}",
              file=sys.stderr)
        self.assertLess(worst, MAX_PREPROCESSING_DIFFERENCE)

    def test_classify_ranks_like_pytorch_eval_pipeline(self):
        batch = torch.stack([torch_reference(path) for path in self.images])
        with torch.no_grad():
            logits = self.model(batch)
        request = self.v1.ClassifyRequest(model_name="resnet", top_k=TOP_K, images=[
            self.v1.ImageInput(encoded=read(path), id=os.path.basename(path)) for path in self.images])
        response = self.fovea.Classify(request, timeout=RPC_TIMEOUT_SECONDS)
        agree = 0
        smallest_gap = float("inf")
        for row, result in zip(logits, response.results):
            expected = torch.topk(row, TOP_K + 1)
            served = [p.class_index for p in result.predictions]
            smallest_gap = min(smallest_gap, float(expected.values[TOP_K - 1] - expected.values[TOP_K]))
            agree += served == expected.indices[:TOP_K].tolist()
            self.assertEqual(served, expected.indices[:TOP_K].tolist(), result.id)
        print(f"\ntop-5 identical (same order) on {agree}/{len(self.images)} JPEGs; smallest logit gap between "
              f"5th and 6th: {smallest_gap:.3g}", file=sys.stderr)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--proto-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    harness.ARGS = ARGS
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
