"""The peers Fovea is compared with, all on the weights of one Fovea ONNX classifier: a PyTorch module (eager, and
the TorchScript variants of bench/engine/run.py), OpenCV DNN, and the shared helpers of run.py and peer_server.py.

The PyTorch module runs the ONNX graph with torch.nn.functional through bench/localize/dense_torch.py (the one ONNX →
PyTorch mapping of this repository); its initializers are registered as buffers, so torch.jit.trace sees them as
module state and torch.jit.freeze can fold BatchNormalization into the convolutions.
"""
import importlib.util
import os
import sys

import cv2
import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(BENCH, "localize"))
import dense_torch  # noqa: E402 (bench/localize)
import make_scenes  # noqa: E402 (bench/localize)


def load_bench_script(folder):
    """bench/<folder>/run.py as a module named <folder>_run (every bench script is called run.py)."""
    spec = importlib.util.spec_from_file_location(f"{folder}_run", os.path.join(BENCH, folder, "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_stubs(workdir):
    """fovea.v1 protobuf and gRPC modules, generated into `workdir` (bench/localize/evaluate.py does the work)."""
    spec = importlib.util.spec_from_file_location("localize_evaluate", os.path.join(BENCH, "localize", "evaluate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_stubs(workdir)


class TorchClassifier(torch.nn.Module):
    """The ONNX classifier as a torch module: [n, C, H, W] normalized input → [n, classes] (its graph's output,
    probabilities for Fovea's models)."""

    def __init__(self, path):
        super().__init__()
        self.onnx = dense_torch.DenseModel(path)
        for index, tensor in enumerate(self.onnx.weights.values()):
            self.register_buffer(f"initializer_{index}", tensor)

    def forward(self, x):
        return self.onnx._run(x, dense=False)


def opencv_net(path, threads):
    """OpenCV DNN on the same ONNX file, its own CPU backend, `threads` threads."""
    cv2.setNumThreads(threads)
    net = cv2.dnn.readNetFromONNX(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def opencv_forward(net):
    """A callable running `net` on one float32 NCHW batch (torch or numpy), for bench/engine/run.py's time_torch."""
    def forward(x):
        net.setInput(x.numpy() if isinstance(x, torch.Tensor) else x)
        return net.forward()
    return forward


def test_image_png(index=0):
    """Fashion-MNIST test image `index` as PNG bytes (28x28 gray) and its true class."""
    images, labels = make_scenes.load_test_set(make_scenes.DATASET)
    ok, png = cv2.imencode(".png", images[index])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return png.tobytes(), int(labels[index])


def input_spec(path):
    """(channels, height, width, mean, std) from the ONNX file: its input shape and Fovea's metadata keys."""
    model = onnx.load(path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    props = {p.key: p.value for p in model.metadata_props}
    channels, height, width = dims[1], dims[2], dims[3]

    def per_channel(key, default):
        values = [float(v) for v in props.get(key, default).split(",")]
        return values * channels if len(values) == 1 else values
    return channels, height, width, per_channel("fovea.input.mean", "0"), per_channel("fovea.input.std", "1")


def decode_to_input(data, channels, height, width, mean, std):
    """PNG/JPEG bytes → normalized float32 [channels, height, width], the way fovea-server prepares an image (gray
    by BT.601 luma, bilinear resize without keeping the aspect ratio, scale to [0, 1], then mean/std); None when the
    bytes do not decode."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
    if image is None:
        return None
    if image.shape[0] != height or image.shape[1] != width:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    if channels == 1:
        pixels = image[None].astype(np.float32)
    else:
        pixels = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).transpose(2, 0, 1).astype(np.float32)
    mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, np.float32).reshape(-1, 1, 1)
    return (pixels / 255.0 - mean) / std
