#!/usr/bin/python3
"""Triton's extensions of the Open Inference Protocol over gRPC, end to end: the model repository (index, load and
unload under --model-control-mode explicit), the model configuration and the statistics, and the stream's
triton_final_response flag. The real fovea-server serves the integration test repository (tiny v1/v2, rgb, broken)
with only `tiny` loaded at start-up.

Usage: repository_extensions_test.py --server-bin BIN --proto-dir DIR --test-data DIR [unittest args]
"""
import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import grpc
import numpy as np
from google.protobuf import text_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

ARGS = None
RPC_TIMEOUT_SECONDS = 60


class RepositoryExtensionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub_dir = tempfile.mkdtemp(prefix="fovea-repository-stubs-")
        cls.pb, pb_grpc, _, _ = harness.generate_stubs(ARGS.proto_dir, cls.stub_dir)
        cls.config_pb = importlib.import_module("inference.model_config_pb2")
        cls.server = harness.Server(cls.pb, pb_grpc, server_bin=ARGS.server_bin,
                                    repository=os.path.join(ARGS.test_data, "models"), http_port=harness.free_port(),
                                    extra_args=["--model-control-mode", "explicit", "--load-model", "tiny"])
        cls.oip = cls.server.stub

    @classmethod
    def tearDownClass(cls):
        exit_code = cls.server.stop()
        shutil.rmtree(cls.stub_dir, ignore_errors=True)
        if exit_code != 0:
            raise AssertionError(f"fovea-server exited {exit_code} on SIGTERM:\n{cls.server.log_text()}")

    # --- helpers -------------------------------------------------------------------------------------------------

    def call(self, method, request):
        return getattr(self.oip, method)(request, timeout=RPC_TIMEOUT_SECONDS)

    def assert_rpc_error(self, method, request, code, *parts):
        with self.assertRaises(grpc.RpcError) as raised:
            self.call(method, request)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        for part in parts:
            self.assertIn(part, raised.exception.details())

    def http(self, method, path, body=None):
        """(status, parsed JSON answer) of one REST call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{self.server.http_address}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def index(self, ready=True):
        return sorted((m.name, m.version, m.state) for m in self.call("RepositoryIndex",
                                                                       self.pb.RepositoryIndexRequest(ready=ready)).models)

    def pixels(self, model, version="", count=1, size=28, channels=1):
        request = self.pb.ModelInferRequest(model_name=model, model_version=version)
        request.inputs.add(name="input", datatype="UINT8", shape=[count, size, size, channels])
        request.raw_input_contents.append(bytes(count * size * size * channels))
        return request

    def stats(self, name="", version=""):
        return self.call("ModelStatistics", self.pb.ModelStatisticsRequest(name=name, version=version)).model_stats

    # --- the model repository extension --------------------------------------------------------------------------

    def test_load_and_unload_by_request(self):
        self.assertEqual(self.index(), [("tiny", "1", "READY"), ("tiny", "2", "READY")])
        # Every model folder, the ones not loaded without version or state, as Triton lists them.
        self.assertEqual(self.index(ready=False)[:2], [("broken", "", ""), ("rgb", "", "")])
        self.assert_rpc_error("ModelInfer", self.pixels("rgb", size=16, channels=3), grpc.StatusCode.NOT_FOUND,
                              "model 'rgb' not found")
        self.call("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="rgb"))
        self.assertIn(("rgb", "1", "READY"), self.index())
        self.assertEqual(list(self.call("ModelInfer", self.pixels("rgb", size=16, channels=3)).outputs[0].shape),
                         [1, 3])
        self.call("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="rgb"))  # idempotent
        self.call("RepositoryModelUnload", self.pb.RepositoryModelUnloadRequest(model_name="rgb"))
        self.assertNotIn("rgb", [name for name, _, _ in self.index()])
        self.assert_rpc_error("ModelInfer", self.pixels("rgb", size=16, channels=3), grpc.StatusCode.NOT_FOUND)
        self.assert_rpc_error("RepositoryModelUnload", self.pb.RepositoryModelUnloadRequest(model_name="rgb"),
                              grpc.StatusCode.NOT_FOUND, "model 'rgb' is not loaded")

    def test_a_load_request_s_config_replaces_the_folder_s_until_unloaded(self):
        with_config = self.pb.RepositoryModelLoadRequest(model_name="rgb")
        with_config.parameters["config"].string_param = json.dumps(
            {"max_batch_size": 2, "dynamic_batching": {"max_queue_delay_microseconds": 700}, "instance_group": [
                {"count": 1, "kind": "KIND_CPU", "host_policy": "none"}]})
        self.call("RepositoryModelLoad", with_config)
        config = self.call("ModelConfig", self.pb.ModelConfigRequest(name="rgb")).config
        self.assertEqual((config.max_batch_size, config.dynamic_batching.max_queue_delay_microseconds), (2, 700))
        self.assertEqual(self.call("ModelInfer", self.pixels("rgb", size=16, channels=3)).model_name, "rgb")
        # A load without config goes back to the folder's configuration (the server's batching defaults).
        self.call("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="rgb"))
        config = self.call("ModelConfig", self.pb.ModelConfigRequest(name="rgb")).config
        self.assertNotEqual(config.max_batch_size, 2)
        self.call("RepositoryModelUnload", self.pb.RepositoryModelUnloadRequest(model_name="rgb"))

    def test_load_errors_name_the_model_and_the_reason(self):
        self.assert_rpc_error("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="broken"),
                              grpc.StatusCode.FAILED_PRECONDITION, "failed to load 'broken'",
                              "model 'broken' version 1: ")
        self.assertNotIn("broken", [name for name, _, _ in self.index()])
        (broken,) = [m for m in self.call("RepositoryIndex", self.pb.RepositoryIndexRequest()).models
                     if m.name == "broken"]
        self.assertEqual((broken.version, broken.state), ("1", "UNAVAILABLE"))
        self.assertIn("ONNX", broken.reason)
        self.assert_rpc_error("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="nope"),
                              grpc.StatusCode.NOT_FOUND, "has no folder 'nope'")
        self.assert_rpc_error("RepositoryModelLoad", self.pb.RepositoryModelLoadRequest(model_name="../tiny"),
                              grpc.StatusCode.INVALID_ARGUMENT, "model name '../tiny' is invalid")
        with_files = self.pb.RepositoryModelLoadRequest(model_name="rgb")
        with_files.parameters["file:1/model.onnx"].bytes_param = b"onnx"
        self.assert_rpc_error("RepositoryModelLoad", with_files, grpc.StatusCode.UNIMPLEMENTED,
                              "failed to load 'rgb': load parameter 'file:1/model.onnx' is not implemented")
        unknown = self.pb.RepositoryModelLoadRequest(model_name="rgb")
        unknown.parameters["colour"].string_param = "blue"
        self.assert_rpc_error("RepositoryModelLoad", unknown, grpc.StatusCode.INVALID_ARGUMENT,
                              "load parameter 'colour' is not known")
        bad_config = self.pb.RepositoryModelLoadRequest(model_name="rgb")
        bad_config.parameters["config"].string_param = '{"max_batch_size": "lots"}'
        self.assert_rpc_error("RepositoryModelLoad", bad_config, grpc.StatusCode.FAILED_PRECONDITION,
                              "failed to load 'rgb' with the request's config", "max_batch_size")
        self.assertNotIn("rgb", [name for name, _, _ in self.index()], "a config that fails loads nothing")
        self.assert_rpc_error("RepositoryIndex", self.pb.RepositoryIndexRequest(repository_name="other"),
                              grpc.StatusCode.NOT_FOUND, "unknown repository 'other'")
        self.assertTrue(self.call("ModelReady", self.pb.ModelReadyRequest(name="tiny")).ready)

    # --- the model configuration extension -----------------------------------------------------------------------

    def test_model_config_describes_the_served_model_and_round_trips(self):
        config = self.call("ModelConfig", self.pb.ModelConfigRequest(name="tiny", version="2")).config
        self.assertEqual((config.name, config.platform, config.backend), ("tiny", "onnxruntime_onnx", "onnxruntime"))
        self.assertGreater(config.max_batch_size, 0)
        self.assertEqual([(i.name, i.data_type, list(i.dims)) for i in config.input],
                         [("input", self.config_pb.TYPE_FP32, [1, 28, 28])])
        self.assertEqual([(o.name, o.data_type, list(o.dims)) for o in config.output],
                         [("scores", self.config_pb.TYPE_FP32, [10])])
        self.assertEqual(config.WhichOneof("scheduling_choice"), "dynamic_batching")
        self.assertEqual(config.instance_group[0].kind, self.config_pb.ModelInstanceGroup.KIND_CPU)
        self.assertGreaterEqual(config.instance_group[0].count, 1)
        self.assertEqual(config.parameters["scores"].string_value, "softmax")  # version 2 outputs logits
        # Protobuf text format, as config.pbtxt holds it, reads back to the same message.
        self.assertEqual(text_format.Parse(text_format.MessageToString(config), self.config_pb.ModelConfig()), config)
        self.assert_rpc_error("ModelConfig", self.pb.ModelConfigRequest(name="nope"), grpc.StatusCode.NOT_FOUND,
                              "model 'nope' not found")
        self.assert_rpc_error("ModelConfig", self.pb.ModelConfigRequest(name="tiny", version="9"),
                              grpc.StatusCode.NOT_FOUND, "has no version 9")

    # --- the statistics extension --------------------------------------------------------------------------------

    def test_statistics_count_each_version_s_requests_and_times(self):
        before = {s.version: s for s in self.stats("tiny")}
        self.assertEqual(sorted(before), ["1", "2"])
        for _ in range(3):
            self.call("ModelInfer", self.pixels("tiny", version="1", count=2))
        wrong_shape = self.pb.ModelInferRequest(model_name="tiny", model_version="1")
        wrong_shape.inputs.add(name="input", datatype="FP32", shape=[1, 1, 27, 27])
        wrong_shape.raw_input_contents.append(bytes(4 * 27 * 27))
        self.assert_rpc_error("ModelInfer", wrong_shape, grpc.StatusCode.INVALID_ARGUMENT, "must have shape")
        (after,) = self.stats("tiny", "1")
        delta = lambda field: getattr(after.inference_stats, field).count - getattr(before["1"].inference_stats,
                                                                                    field).count
        self.assertEqual((after.name, after.version), ("tiny", "1"))
        self.assertEqual(delta("success"), 3)
        self.assertEqual(delta("fail"), 1)
        self.assertEqual(after.inference_count - before["1"].inference_count, 6)  # images
        self.assertGreaterEqual(after.execution_count - before["1"].execution_count, 1)
        self.assertGreater(after.inference_stats.success.ns, before["1"].inference_stats.success.ns)
        self.assertGreater(after.inference_stats.compute_infer.ns, 0)
        self.assertGreater(after.last_inference, 0)
        (untouched,) = self.stats("tiny", "2")
        self.assertEqual(untouched.inference_stats.success.count, before["2"].inference_stats.success.count)
        self.assertEqual({(s.name, s.version) for s in self.stats()} >= {("tiny", "1"), ("tiny", "2")}, True)
        self.assert_rpc_error("ModelStatistics", self.pb.ModelStatisticsRequest(name="nope"),
                              grpc.StatusCode.NOT_FOUND, "model 'nope' not found")
        self.assert_rpc_error("ModelStatistics", self.pb.ModelStatisticsRequest(version="1"),
                              grpc.StatusCode.INVALID_ARGUMENT, "a version ('1') needs a model name")

    # --- the same extensions over REST ------------------------------------------------------------------------------

    def test_rest_routes_answer_like_grpc(self):
        status, config = self.http("GET", "/v2/models/tiny/versions/2/config")
        self.assertEqual(status, 200, config)
        grpc_config = self.call("ModelConfig", self.pb.ModelConfigRequest(name="tiny", version="2")).config
        self.assertEqual((config["name"], config["platform"], config["max_batch_size"]),
                         ("tiny", "onnxruntime_onnx", grpc_config.max_batch_size))
        self.assertEqual(config["input"][0]["dims"], [1, 28, 28])  # numbers, not protobuf's int64 strings
        self.assertEqual(config["input"][0]["format"], "FORMAT_NCHW")
        self.assertEqual(config["output"][0]["data_type"], "TYPE_FP32")
        self.assertEqual(config["parameters"]["scores"], {"string_value": "softmax"})

        self.call("ModelInfer", self.pixels("tiny", version="2"))
        status, stats = self.http("GET", "/v2/models/tiny/versions/2/stats")
        self.assertEqual(status, 200, stats)
        (version_stats,) = stats["model_stats"]
        self.assertGreaterEqual(version_stats["inference_stats"]["success"]["count"], 1)
        status, every = self.http("GET", "/v2/models/stats")
        self.assertEqual(status, 200, every)
        self.assertIn(("tiny", "2"), [(m["name"], m["version"]) for m in every["model_stats"]])

        status, index = self.http("POST", "/v2/repository/index", {"ready": True})
        self.assertEqual(status, 200, index)
        self.assertEqual(sorted((m["name"], m["version"], m["state"]) for m in index),
                         [("tiny", "1", "READY"), ("tiny", "2", "READY")])
        self.assertEqual(self.http("POST", "/v2/repository/models/rgb/load", {}), (200, {}))
        self.assertEqual(self.http("GET", "/v2/models/rgb/ready")[0], 200)
        self.assertEqual(self.http("POST", "/v2/repository/models/rgb/unload")[0], 200)
        self.assertEqual(self.http("GET", "/v2/models/rgb/ready")[0], 404)

    def test_rest_errors_name_the_problem(self):
        status, answer = self.http("GET", "/v2/models/nope/config")
        self.assertEqual(status, 404)
        self.assertIn("model 'nope' not found", answer["error"])
        status, answer = self.http("POST", "/v2/repository/models/rgb/load",
                                   {"parameters": {"config": "{\"max_batch_size\": 8}"}})
        self.assertEqual(status, 200, answer)
        status, config = self.http("GET", "/v2/models/rgb/config")
        self.assertEqual((status, config["max_batch_size"]), (200, 8), "the request's config is in force")
        self.assertEqual(self.http("POST", "/v2/repository/models/rgb/unload")[0], 200)
        status, answer = self.http("POST", "/v2/repository/models/rgb/load", {"parameters": {"config": "[1, 2]"}})
        self.assertEqual(status, 400, answer)
        self.assertIn("the load request's config is not a JSON object", answer["error"])
        status, answer = self.http("POST", "/v2/repository/models/rgb/load", {"parameters": {"config": 8}})
        self.assertEqual(status, 400, answer)
        self.assertIn("load parameter 'config' must be a string", answer["error"])
        status, answer = self.http("POST", "/v2/repository/index", {"ready": "yes"})
        self.assertEqual(status, 400)
        self.assertIn("index request field 'ready'", answer["error"])
        self.assertEqual(self.http("GET", "/v2/repository/models/rgb/load")[0], 405)
        status, answer = self.http("POST", "/v2/repository/models/nope/load")
        self.assertEqual(status, 404)
        self.assertIn("failed to load 'nope'", answer["error"])
        self.assertEqual(self.http("POST", "/v2/repository/models/rgb/unload")[0], 404)

    # --- streams -------------------------------------------------------------------------------------------------

    def test_stream_sets_triton_final_response_when_asked(self):
        asked = self.pixels("tiny")
        asked.id = "asked"
        asked.parameters["triton_enable_empty_final_response"].bool_param = True
        plain = self.pixels("tiny")
        plain.id = "plain"
        failing = self.pixels("nope")
        failing.id = "failing"
        failing.parameters["triton_enable_empty_final_response"].bool_param = True
        answers = {a.infer_response.id: a for a in self.oip.ModelStreamInfer(iter([asked, plain, failing]),
                                                                            timeout=RPC_TIMEOUT_SECONDS)}
        self.assertTrue(answers["asked"].infer_response.parameters["triton_final_response"].bool_param)
        self.assertNotIn("triton_final_response", answers["plain"].infer_response.parameters)
        self.assertIn("not found", answers["failing"].error_message)
        self.assertTrue(answers["failing"].infer_response.parameters["triton_final_response"].bool_param)
        np.testing.assert_equal(len(answers["asked"].infer_response.raw_output_contents), 1)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--test-data", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
