#!/usr/bin/python3
"""Writes the model repository and sample files the integration tests serve and send.

Usage: make_test_models.py OUTPUT_DIR

OUTPUT_DIR/models/tiny/1/model.onnx   1x28x28 gray -> 10 classes, ends in Softmax
OUTPUT_DIR/models/tiny/2/model.onnx   same architecture, other weights, outputs logits (the server applies softmax)
OUTPUT_DIR/models/rgb/1/model.onnx    3x16x16 RGB -> 3 classes, per-channel mean/std
OUTPUT_DIR/models/broken/1/model.onnx not an ONNX file: the server must skip it and serve the others
OUTPUT_DIR/localize-models/flathead/1/model.onnx  1x28x28 -> 10 classes with a conv/maxpool/flatten/gemm head:
                                      no global average pooling, so CAM is impossible while Grad-CAM and dense work
OUTPUT_DIR/localize-models/manyclass/1/model.onnx  1x28x28 -> 1000 classes (two conv/maxpool stages, a conv, GAP,
                                      gemm, softmax): natural stride 4, for answers that must be sized before any work
OUTPUT_DIR/localize-models/segmenter/1/model.onnx  1x32x32 gray -> [1, 3, 16, 16] class logits (background, bright,
                                      dark): a 1x1 convolution and 2x2 average pooling, so the regions are known
OUTPUT_DIR/images/sample.jpg          a JPEG (the C++ tests write their PNGs themselves)
Weights come from fixed seeds, so every run writes the same files.
"""
import os
import sys

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8


def classifier(seed, channels, size, classes, labels, mean, std, softmax):
    """conv3x3(8) -> relu -> global average pool -> flatten -> gemm(classes) [-> softmax]."""
    rng = np.random.RandomState(seed)
    filters = 8
    weights = [
        numpy_helper.from_array(rng.randn(filters, channels, 3, 3).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.randn(filters).astype(np.float32) * 0.1, "conv.bias"),
        numpy_helper.from_array(rng.randn(classes, filters).astype(np.float32) * 0.3, "fc.weight"),
        numpy_helper.from_array(rng.randn(classes).astype(np.float32) * 0.1, "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits" if softmax else "scores"], name="fc",
                         transB=1),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], name="softmax", axis=1))
    graph = helper.make_graph(
        nodes, "test_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fovea-tests")
    model.ir_version = IR_VERSION
    metadata = {
        "fovea.labels": "\n".join(labels),
        "fovea.input.channels": str(channels),
        "fovea.input.height": str(size),
        "fovea.input.width": str(size),
        "fovea.input.mean": ", ".join(str(m) for m in mean),
        "fovea.input.std": ", ".join(str(s) for s in std),
    }
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    return model


def flat_head_classifier(seed):
    """conv3x3(4, pad 1) -> relu -> maxpool 2 -> flatten -> gemm(10) -> softmax, scale-only input."""
    rng = np.random.RandomState(seed)
    weights = [
        numpy_helper.from_array(rng.randn(4, 1, 3, 3).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.randn(4).astype(np.float32) * 0.1, "conv.bias"),
        numpy_helper.from_array(rng.randn(10, 4 * 14 * 14).astype(np.float32) * 0.05, "fc.weight"),
        numpy_helper.from_array(rng.randn(10).astype(np.float32) * 0.1, "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["scores"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "flat_head_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 10])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fovea-tests")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"fovea.input.channels": "1", "fovea.input.height": "28",
                                   "fovea.input.width": "28"})
    onnx.checker.check_model(model)
    return model


def many_class_classifier(seed, classes):
    """(conv3x3(8, pad 1) -> relu -> maxpool 2) x 2 -> conv3x3(8, pad 1) -> relu -> global average pool -> flatten
    -> gemm(classes) -> softmax. The last convolution feeds the pooling head, so CAM and dense both apply."""
    rng = np.random.RandomState(seed)
    weights = [
        numpy_helper.from_array(rng.randn(8, 1, 3, 3).astype(np.float32), "conv1.weight"),
        numpy_helper.from_array(rng.randn(8).astype(np.float32) * 0.1, "conv1.bias"),
        numpy_helper.from_array(rng.randn(8, 8, 3, 3).astype(np.float32) * 0.3, "conv2.weight"),
        numpy_helper.from_array(rng.randn(8).astype(np.float32) * 0.1, "conv2.bias"),
        numpy_helper.from_array(rng.randn(8, 8, 3, 3).astype(np.float32) * 0.3, "conv3.weight"),
        numpy_helper.from_array(rng.randn(8).astype(np.float32) * 0.1, "conv3.bias"),
        numpy_helper.from_array(rng.randn(classes, 8).astype(np.float32), "fc.weight"),
        numpy_helper.from_array(rng.randn(classes).astype(np.float32) * 0.1, "fc.bias"),
    ]
    nodes = []
    value = "input"
    for stage in (1, 2):
        nodes += [
            helper.make_node("Conv", [value, f"conv{stage}.weight", f"conv{stage}.bias"], [f"conv{stage}"],
                             name=f"conv{stage}", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"conv{stage}"], [f"relu{stage}"], name=f"relu{stage}"),
            helper.make_node("MaxPool", [f"relu{stage}"], [f"pool{stage}"], name=f"pool{stage}", kernel_shape=[2, 2],
                             strides=[2, 2]),
        ]
        value = f"pool{stage}"
    nodes += [
        helper.make_node("Conv", [value, "conv3.weight", "conv3.bias"], ["conv3"], name="conv3", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv3"], ["relu3"], name="relu3"),
        helper.make_node("GlobalAveragePool", ["relu3"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["scores"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "many_class_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fovea-tests")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"fovea.input.channels": "1", "fovea.input.height": "28",
                                   "fovea.input.width": "28"})
    onnx.checker.check_model(model)
    return model


def segmenter():
    """A segmentation model whose answer is known: per pixel x in [0, 1] (mean 0, std 1), the logits are
    background 0, bright 20 (x - 0.75) and dark 20 (0.25 - x), averaged over 2x2 cells: [1, 3, 16, 16] for a 32x32
    input. Mid-gray is background, white is "bright", black is "dark"; class 0 is the background class."""
    weights = [
        numpy_helper.from_array(np.array([0.0, 20.0, -20.0], np.float32).reshape(3, 1, 1, 1), "head.weight"),
        numpy_helper.from_array(np.array([0.0, -15.0, 5.0], np.float32), "head.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "head.weight", "head.bias"], ["logits_full"], name="head"),
        helper.make_node("AveragePool", ["logits_full"], ["logits"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "segmenter",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, 16, 16])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fovea-tests")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"fovea.input.channels": "1", "fovea.input.height": "32",
                                   "fovea.input.width": "32", "fovea.input.mean": "0", "fovea.input.std": "1",
                                   "fovea.labels": "background\nbright\ndark", "fovea.background_class": "0"})
    onnx.checker.check_model(model)
    return model


def save(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def main():
    out = sys.argv[1]
    digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    save(classifier(1, 1, 28, 10, digits, [0.5], [0.25], softmax=True), f"{out}/models/tiny/1/model.onnx")
    save(classifier(2, 1, 28, 10, digits, [0.5], [0.25], softmax=False), f"{out}/models/tiny/2/model.onnx")
    save(classifier(3, 3, 16, 3, ["red", "green", "blue"], [0.485, 0.456, 0.406], [0.229, 0.224, 0.225],
                    softmax=True), f"{out}/models/rgb/1/model.onnx")
    save(flat_head_classifier(4), f"{out}/localize-models/flathead/1/model.onnx")
    save(many_class_classifier(5, 1000), f"{out}/localize-models/manyclass/1/model.onnx")
    save(segmenter(), f"{out}/localize-models/segmenter/1/model.onnx")
    os.makedirs(f"{out}/models/broken/1", exist_ok=True)
    with open(f"{out}/models/broken/1/model.onnx", "wb") as f:
        f.write(b"this is not an ONNX model")
    os.makedirs(f"{out}/images", exist_ok=True)
    gradient = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (24, 1))
    image = np.dstack([gradient, gradient[::-1], np.full_like(gradient, 128)])
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    with open(f"{out}/images/sample.jpg", "wb") as f:
        f.write(jpeg.tobytes())


if __name__ == "__main__":
    main()
