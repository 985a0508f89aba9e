"""Exports small PyTorch CNNs to ONNX in the ONNX backend-test layout, for onnx_conformance.

Each case folder gets model.onnx and test_data_set_0/{input_0,output_0}.pb, where output_0 is PyTorch's own result.
The models use what real exports contain and the ONNX node tests do not: BatchNormalization after Conv (folded by
the engine's passes), residual Add (fused as a sum post-op), ReLU6 as Clip, depthwise convolutions, and the
Shape/Gather/Unsqueeze/Concat/Reshape arithmetic of `x.view(x.size(0), -1)`.

Usage: make_torch_cases.py OUTPUT_DIR
"""

import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

OPSET = 13
LEGACY_OPSET = 9  # Clip bounds as attributes, legacy Softmax
SEED = 1234
BATCH = 2


def randomize_batch_norm(module):
    """Gives every BatchNorm non-trivial statistics, so folding them into the convolution is really tested."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class TinyResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        self.block = ResidualBlock(8)
        self.head = nn.Linear(8, classes)

    def forward(self, x):
        x = self.block(self.stem(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return torch.softmax(self.head(x.view(x.size(0), -1)), dim=1)


class TinyMobileNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 16, 1), nn.LeakyReLU(0.1), nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.Dropout(0.5))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, classes), nn.Sigmoid())

    def forward(self, x):
        return self.classifier(self.features(x))


class TinyConcatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(3, 4, 1)
        self.right = nn.Conv2d(3, 4, 3, padding=2, dilation=2)

    def forward(self, x):
        y = torch.cat([self.left(x), torch.sigmoid(self.right(x))], dim=1)
        return torch.log_softmax(nn.functional.max_pool2d(y, 2) * 2.0 - 1.0, dim=1)


CASES = {
    "test_torch_tiny_resnet": (TinyResNet, (BATCH, 3, 32, 32), OPSET),
    "test_torch_tiny_resnet_opset9": (TinyResNet, (BATCH, 3, 32, 32), LEGACY_OPSET),
    "test_torch_tiny_mobilenet": (TinyMobileNet, (BATCH, 1, 16, 16), OPSET),
    "test_torch_tiny_mobilenet_opset9": (TinyMobileNet, (BATCH, 1, 16, 16), LEGACY_OPSET),
    "test_torch_tiny_concat": (TinyConcatNet, (BATCH, 3, 12, 10), OPSET),
}


def write_tensor(array, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array).SerializeToString())


def export_case(name, model_class, input_shape, opset, output_dir):
    torch.manual_seed(SEED)
    model = model_class()
    with torch.no_grad():
        randomize_batch_norm(model)
    model.eval()
    x = torch.rand(*input_shape)
    with torch.no_grad():
        y = model(x)
    case_dir = os.path.join(output_dir, name)
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    model_path = os.path.join(case_dir, "model.onnx")
    torch.onnx.export(model, x, model_path, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    onnx.checker.check_model(onnx.load(model_path))
    write_tensor(x.numpy().astype(np.float32), os.path.join(data_dir, "input_0.pb"))
    write_tensor(y.numpy().astype(np.float32), os.path.join(data_dir, "output_0.pb"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, (model_class, input_shape, opset) in CASES.items():
        export_case(name, model_class, input_shape, opset, sys.argv[1])


if __name__ == "__main__":
    main()
