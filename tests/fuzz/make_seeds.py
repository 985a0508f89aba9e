#!/usr/bin/python3
"""Writes the committed seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Usage: tests/fuzz/make_seeds.py [CORPUS_DIR]   (default: the corpus/ folder next to this script)

A few hand-made seeds per target, each named for what it is; libFuzzer grows the corpus from them during runs, into
the build folder (tests/fuzz/run.sh), never into git.

onnx_import_fuzz/       tiny_classifier.onnx (also the model the request fuzzers serve), a logits variant, a model
                        with an unsupported op, an empty file
image_decode_fuzz/      small PNGs (gray, RGBA, 16-bit RGB, palette) and an RGB JPEG, sizes as width x height
classify_request_fuzz/  serialized fovea.v1.ClassifyRequest messages: encoded PNG and JPEG, a float32 tensor, a mix of
                        a good image, a bad one and raw uint8 pixels, a negative top_k
model_infer_request_fuzz/  serialized inference.ModelInferRequest messages: FP32 in raw and typed contents, UINT8 with
                        the classification output parameter, BYTES images in raw and typed contents
rest_body_fuzz/         REST infer bodies (a Content-Encoding line, an Inference-Header-Content-Length line or "-", the
                        body): plain JSON, JSON plus binary FP32 and BYTES inputs, a gzip body mixing binary UINT8 with
                        JSON FP32, a deflate body with binary inputs of every other datatype echoed as binary and JSON
flags_fuzz/             command lines (a mode byte, then NUL-separated arguments): values in both spellings,
                        switches, positionals after "--", environment values, and each kind of error
triton_config_json_fuzz/  ModelConfig JSON as a load request's "config" carries it: Triton's example, camelCase
                        names, fields outside Fovea's subset, wrong types, not an object
slide_read_fuzz/        slide files: a two-level pyramidal tiled TIFF, one with an Aperio-style description (OpenSlide's
                        SVS reader takes it), a strip TIFF, a PNG and a JPEG, and a tiled TIFF cut in half
triton_config_fuzz/     config.pbtxt texts: Triton's documented ONNX example, every field of Fovea's subset, fields
                        outside it (skipped and named), Fovea's parameters, and syntax and validation errors
Deterministic: fixed seeds, so rerunning rewrites the same bytes.
"""
import gzip
import io
import json
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import onnx
import tifffile
from onnx import TensorProto, helper, numpy_helper

SIDE = 8  # the tiny model's input: 1 x 8 x 8 gray
CLASSES = 3


def tiny_classifier(softmax=True, op="Relu"):
    """conv3x3(4) -> relu -> global average pool -> flatten -> gemm(3) [-> softmax], with fovea.* metadata."""
    rng = np.random.RandomState(7)
    weights = [
        numpy_helper.from_array(rng.randn(4, 1, 3, 3).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.randn(4).astype(np.float32) * 0.1, "conv.bias"),
        numpy_helper.from_array(rng.randn(CLASSES, 4).astype(np.float32) * 0.3, "fc.weight"),
        numpy_helper.from_array(rng.randn(CLASSES).astype(np.float32) * 0.1, "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node(op, ["conv"], ["relu"], name="act"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits" if softmax else "scores"], name="fc",
                         transB=1),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], name="softmax", axis=1))
    graph = helper.make_graph(nodes, "fuzz_classifier",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, SIDE, SIDE])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", CLASSES])],
                              initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="fovea-fuzz")
    model.ir_version = 8
    helper.set_model_props(model, {"fovea.labels": "a\nb\nc", "fovea.input.channels": "1",
                                   "fovea.input.height": str(SIDE), "fovea.input.width": str(SIDE),
                                   "fovea.input.mean": "0.5", "fovea.input.std": "0.25"})
    return model.SerializeToString()


def images():
    rng = np.random.RandomState(11)
    gray = rng.randint(0, 256, (6, 5), dtype=np.uint8)
    rgb = rng.randint(0, 256, (4, 7, 3), dtype=np.uint8)
    rgba = rng.randint(0, 256, (3, 3, 4), dtype=np.uint8)
    wide = (rng.randint(0, 65536, (2, 3, 3))).astype(np.uint16)
    out = {}
    for name, image, ext in [("png_gray_5x6.png", gray, ".png"), ("png_rgba_3x3.png", rgba, ".png"),
                             ("png_rgb16_3x2.png", wide, ".png"), ("jpeg_rgb_7x4.jpg", rgb, ".jpg")]:
        ok, data = cv2.imencode(ext, image)
        assert ok
        out[name] = data.tobytes()
    out["png_palette_2x2.png"] = palette_png()
    return out


def png_chunk(kind, body):
    import zlib
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def palette_png():
    """A 2x2 palette PNG, written by hand because OpenCV never writes palette images."""
    import zlib
    header = struct.pack(">IIBBBBB", 2, 2, 8, 3, 0, 0, 0)
    rows = b"\x00\x00\x01" + b"\x00\x02\x00"
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"PLTE", b"\xff\x00\x00\x00\xff\x00\x00\x00\xff")
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


# A minimal protobuf writer: the fuzz seeds only need varints and length-delimited fields.
def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, data):
    return varint((number << 3) | 2) + varint(len(data)) + data


def image_input(encoded=None, tensor=None, image_id=b""):
    body = field_bytes(1, encoded) if encoded is not None else field_bytes(2, tensor)
    return body + (field_bytes(3, image_id) if image_id else b"")


def raw_tensor(dtype, shape, data):
    return field_varint(1, dtype) + b"".join(field_varint(2, d) for d in shape) + field_bytes(3, data)


def classify_request(name, inputs, version=0, top_k=None):
    body = field_bytes(1, name) + (field_varint(2, version) if version else b"")
    body += b"".join(field_bytes(3, i) for i in inputs)
    return body + (field_varint(4, top_k) if top_k is not None else b"")


def requests(pictures):
    pixels = bytes(range(SIDE * SIDE))
    floats = struct.pack("<%df" % (SIDE * SIDE), *[i / 64.0 for i in range(SIDE * SIDE)])
    return {
        "png_gray_with_id.bin": classify_request(b"tiny", [image_input(pictures["png_gray_5x6.png"], image_id=b"g")]),
        "jpeg_rgb_top_k_2.bin": classify_request(b"tiny", [image_input(pictures["jpeg_rgb_7x4.jpg"])], top_k=2),
        "png_garbage_and_uint8_pixels_version_1.bin": classify_request(
            b"tiny", [image_input(pictures["png_rgba_3x3.png"]), image_input(b"not an image"),
                      image_input(tensor=raw_tensor(1, [SIDE, SIDE, 1], pixels))], version=1),
        "float32_tensor_1x8x8.bin": classify_request(b"tiny",
                                                     [image_input(tensor=raw_tensor(2, [1, SIDE, SIDE], floats))]),
        "negative_top_k.bin": classify_request(b"tiny", [image_input(pictures["png_gray_5x6.png"])], top_k=-1),
    }


def packed_int64(number, values):
    return field_bytes(number, b"".join(varint(v) for v in values))


def string_map_entry(number, key, value):
    """One entry of a map<string, InferParameter> field: key 1, value 2."""
    return field_bytes(number, field_bytes(1, key) + field_bytes(2, value))


def infer_input(datatype, shape, contents=None, name=b"input"):
    body = field_bytes(1, name) + field_bytes(2, datatype) + packed_int64(3, shape)
    return body + (field_bytes(5, contents) if contents is not None else b"")


def infer_request(inputs, raw=(), outputs=(), name=b"tiny", version=b""):
    body = field_bytes(1, name) + (field_bytes(2, version) if version else b"") + field_bytes(3, b"seed")
    body += b"".join(field_bytes(5, i) for i in inputs) + b"".join(field_bytes(6, o) for o in outputs)
    return body + b"".join(field_bytes(7, r) for r in raw)


def classification_output(top_k):
    return field_bytes(1, b"scores") + string_map_entry(2, b"classification", field_varint(2, top_k))


def length_prefixed(*elements):
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def infer_requests(pictures):
    floats = struct.pack("<%df" % (SIDE * SIDE), *[i / 64.0 for i in range(SIDE * SIDE)])
    pixels = bytes(range(SIDE * SIDE))
    return {
        "fp32_raw_contents.bin": infer_request([infer_input(b"FP32", [1, 1, SIDE, SIDE])], raw=[floats]),
        "fp32_typed_contents_version_1.bin": infer_request(
            [infer_input(b"FP32", [1, 1, SIDE, SIDE], field_bytes(6, floats))], version=b"1"),
        "uint8_raw_classification_top_2.bin": infer_request([infer_input(b"UINT8", [1, SIDE, SIDE, 1])], raw=[pixels],
                                                            outputs=[classification_output(2)]),
        "bytes_raw_png_and_jpeg.bin": infer_request(
            [infer_input(b"BYTES", [2])],
            raw=[length_prefixed(pictures["png_gray_5x6.png"], pictures["jpeg_rgb_7x4.jpg"])]),
        "bytes_typed_png_classification_top_3.bin": infer_request(
            [infer_input(b"BYTES", [1, 1], field_bytes(8, pictures["png_rgba_3x3.png"]))],
            outputs=[classification_output(3)]),
    }


def command_line(mode, *args):
    """flags_fuzz input: bit 0 of `mode` allows positionals, bit 1 applies the environment (the last argument)."""
    return bytes([mode]) + b"\0".join(arg.encode() for arg in args)


def command_lines():
    return {
        "values.bin": command_line(1, "--server", "h:1", "--count=7", "--rate", "2.5", "--quiet", "a.png"),
        "optional_values.bin": command_line(0, "--top-k", "-3", "--threshold=0.5", "--token=", "--mode", "b"),
        "double_dash.bin": command_line(1, "--", "--server", "-h"),
        "environment.bin": command_line(2, "--count", "3", "12"),
        "help.bin": command_line(0, "-h"),
        "unknown_flag.bin": command_line(0, "--bogus=1"),
        "missing_value.bin": command_line(0, "--server"),
        "switch_value.bin": command_line(0, "--quiet=yes"),
        "out_of_range.bin": command_line(0, "--count", "1001", "--rate", "1e9"),
        "not_a_number.bin": command_line(3, "--rate", "nan", "x"),
    }


def rest_body(encoding, body, json_length=None):
    """rest_body_fuzz input: the Content-Encoding line, the header line ("-" for absent), the (encoded) body."""
    header = b"-" if json_length is None else str(json_length).encode()
    return encoding + b"\n" + header + b"\n" + body


def binary_request(header, binary):
    """A JSON header and the binary data after it, with the header's length, as Triton's client sends them."""
    text = json.dumps(header).encode()
    return text + binary, len(text)


def binary_input(name, datatype, shape, size):
    return {"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}


def rest_bodies(pictures):
    floats = struct.pack("<4f", 0.5, -1.0, 2.0, 0.0)
    png = pictures["png_gray_5x6.png"]
    element = struct.pack("<I", len(png)) + png
    plain = json.dumps({"id": "plain", "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2],
                                                   "data": [[0.5, -1], [2, 0]]}],
                        "outputs": [{"name": "x", "parameters": {"binary_data": True}}]}).encode()
    fp32_bytes = binary_request({"parameters": {"binary_data_output": True},
                                 "inputs": [binary_input("x", "FP32", [1, 4], len(floats)),
                                            binary_input("image", "BYTES", [1], len(element))]}, floats + element)
    mixed = binary_request({"inputs": [binary_input("pixels", "UINT8", [1, 2, 2, 1], 4),
                                       {"name": "f", "datatype": "FP32", "shape": [1], "data": [1.5]}],
                            "outputs": [{"name": "pixels", "parameters": {"binary_data": False}}]},
                           bytes([0, 9, 128, 255]))
    typed = [("l", "INT64", "<2q", (-3, 1 << 40)), ("i", "INT32", "<2i", (-7, 7)), ("s", "INT8", "<2b", (-1, 1)),
             ("b", "BOOL", "<2B", (1, 0)), ("d", "FP64", "<2d", (0.25, -8.0)), ("w", "UINT16", "<2H", (1, 65535)),
             ("h", "FP16", "<2e", (1.0, -2.0))]
    every = binary_request({"inputs": [binary_input(name, datatype, [2], struct.calcsize(layout))
                                       for name, datatype, layout, _ in typed],
                            "outputs": [{"name": "h", "parameters": {"binary_data": True}}]},
                           b"".join(struct.pack(layout, *values) for _, _, layout, values in typed))
    return {
        "json_fp32_binary_output.bin": rest_body(b"", plain),
        "binary_fp32_and_png_bytes.bin": rest_body(b"identity", *fp32_bytes),
        "gzip_binary_uint8_with_json_fp32.bin": rest_body(b"gzip", gzip.compress(mixed[0], mtime=0), mixed[1]),
        "deflate_binary_every_datatype.bin": rest_body(b"deflate", zlib.compress(every[0], 9), every[1]),
    }


def triton_configs():
    example = """name: "fuzz"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 1, 8, 8 ] } ]
output [ { name: "scores" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "labels.txt" } ]
dynamic_batching { preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100 }
instance_group [ { count: 2 kind: KIND_CPU } ]
version_policy: { latest: { num_versions: 2 } }
"""
    everything = example + """parameters [
  { key: "mean" value: { string_value: "0.5" } },
  { key: "std" value: { string_value: "0.25" } },
  { key: "channel_order" value: { string_value: "RGB" } },
  { key: "resize_mode" value: { string_value: "crop" } },
  { key: "resize_shorter_side" value: { string_value: "10" } },
  { key: "scores" value: { string_value: "softmax" } },
  { key: "precision" value: { string_value: "bf16" } },
  { key: "compute_threads" value: { string_value: "1" } }
]
metric_tags { key: "team" value: "vision" }
default_model_filename: "model.onnx"
"""
    return {
        "triton_example.pbtxt": example.encode(),
        "every_field.pbtxt": everything.encode(),
        "foreign_fields.pbtxt": (example + """optimization { graph { level: 1 } }
model_warmup [ { name: "zeros" batch_size: 1 inputs { key: "input" value: { zero_data: true dims: [ 1, 8, 8 ] } } } ]
input [ { name: "input" reshape: { shape: [ 64 ] } is_shape_tensor: false allow_ragged_batch: true } ]
[some.extension]: 1
""").encode(),
        "version_specific_bad_platform.pbtxt":
            b'version_policy { specific { versions: [ 1, 3 ] } }\nbackend: "onnxruntime"\nplatform: "tensorrt_plan"\n',
        "dims_mismatch.pbtxt": b'max_batch_size: 0\ninput [ { name: "input" dims: [ 1, 8, 8 ] } ]\n',
        "syntax_error.pbtxt": b'name: "fuzz"\ninput [ { name: }\n',
    }


def triton_config_jsons():
    example = {
        "name": "fuzz", "platform": "onnxruntime_onnx", "max_batch_size": 8,
        "input": [{"name": "input", "data_type": "TYPE_FP32", "format": "FORMAT_NCHW", "dims": [1, 8, 8]}],
        "output": [{"name": "scores", "data_type": "TYPE_FP32", "dims": [3], "label_filename": "labels.txt"}],
        "dynamic_batching": {"preferred_batch_size": [2, 4], "max_queue_delay_microseconds": "100"},
        "instance_group": [{"count": 2, "kind": "KIND_CPU"}],
        "version_policy": {"latest": {"num_versions": 2}},
        "parameters": {"mean": {"string_value": "0.5"}, "scores": {"string_value": "softmax"}},
    }
    foreign = dict(example, optimization={"graph": {"level": 1}}, response_cache={"enable": True},
                   input=[{"name": "input", "depth": 2, "reshape": {"shape": [64]}}])
    return {
        "triton_example.json": json.dumps(example).encode(),
        "camel_case.json": b'{"maxBatchSize": 4, "versionPolicy": {"specific": {"versions": ["1", 3]}}}',
        "foreign_fields.json": json.dumps(foreign).encode(),
        "wrong_types.json": b'{"max_batch_size": "eight", "input": {"name": 3}}',
        "not_an_object.json": b'[{"name": "fuzz"}]',
    }


def tiff(pages, tiled=True, description=None):
    """A TIFF of `pages` (RGB arrays, largest first: a pyramid's levels), deflate-compressed."""
    out = io.BytesIO()
    with tifffile.TiffWriter(out) as writer:
        for i, page in enumerate(pages):
            writer.write(np.ascontiguousarray(page), photometric="rgb", compression="zlib",
                         tile=(16, 16) if tiled else None, description=description if i == 0 else None,
                         metadata=None)
    return out.getvalue()


def slides():
    rng = np.random.RandomState(5)
    level0 = rng.randint(0, 256, size=(48, 64, 3)).astype(np.uint8)
    level1 = level0[::2, ::2].copy()
    pyramid = tiff([level0, level1])
    aperio = "Aperio Image Library v10.0.0\r\n64x48 [0,0 64x48] (16x16) RGB|AppMag = 20|MPP = 0.5"
    ok_png, png = cv2.imencode(".png", level0)
    ok_jpeg, jpeg = cv2.imencode(".jpg", level0)
    assert ok_png and ok_jpeg
    return {
        "pyramid_64x48_2_levels.tif": pyramid,
        "aperio_64x48.svs": tiff([level0, level1], description=aperio),
        "strips_64x48.tif": tiff([level0], tiled=False),
        "plain_64x48.png": png.tobytes(),
        "plain_64x48.jpg": jpeg.tobytes(),
        "pyramid_cut_in_half.tif": pyramid[:len(pyramid) // 2],
    }


def write(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    pictures = images()
    write(os.path.join(corpus, "onnx_import_fuzz"), {
        "tiny_classifier.onnx": tiny_classifier(),
        "tiny_logits.onnx": tiny_classifier(softmax=False),
        "unsupported_op.onnx": tiny_classifier(op="Celu"),
        "empty.onnx": b"",
    })
    write(os.path.join(corpus, "image_decode_fuzz"), pictures)
    write(os.path.join(corpus, "classify_request_fuzz"), requests(pictures))
    write(os.path.join(corpus, "model_infer_request_fuzz"), infer_requests(pictures))
    write(os.path.join(corpus, "flags_fuzz"), command_lines())
    write(os.path.join(corpus, "rest_body_fuzz"), rest_bodies(pictures))
    write(os.path.join(corpus, "triton_config_fuzz"), triton_configs())
    write(os.path.join(corpus, "triton_config_json_fuzz"), triton_config_jsons())
    write(os.path.join(corpus, "slide_read_fuzz"), slides())


if __name__ == "__main__":
    main()
